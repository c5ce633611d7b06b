"""A typing sample's parsed text, handed from the infer step to the convert step.

The infer step types a large CSV from its first ``sample_bytes`` of text, and convert
then reads the whole file. Within one pipeline job both steps run in the same process
one after the other, so inside :func:`carry_samples` the infer step leaves its parsed
batches *and its still-open reader* here, and convert starts from them instead of
parsing those bytes again: a tenth of a 250 MB file's parse, and the encoding threads
have their first row group at once instead of after a parse of it. A job-scoped
store, not a parameter (:mod:`lakeport.job_scope`): the steps meet only through the
database. Outside a block, or when the key differs (another file, other reader
settings), nothing is carried and convert reads from the start, so what is carried is
an optimisation only; whatever is left at the block's end is closed.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from lakeport.job_scope import JobScoped


@dataclass
class _Carried:
    read: list[pa.RecordBatch]
    rest: Iterator[pa.RecordBatch]

    def batches(self) -> Iterator[pa.RecordBatch]:
        try:
            while self.read:
                yield self.read.pop(0)  # released as it is handed on
            yield from self.rest
        finally:
            self.close()

    def close(self) -> None:
        self.read.clear()
        close = getattr(self.rest, "close", None)
        if close is not None:
            close()


def _close(item: _Carried) -> None:
    item.close()


_carried: JobScoped[_Carried] = JobScoped("lakeport_carried_samples", _close)

#: Let reads started inside the block be carried over; close what is left at its end.
carry_samples = _carried.scope


def carrying() -> bool:
    """Whether a block would keep an offered read (callers keep their batches only then)."""
    return _carried.active()


def offer(key: Hashable, read: list[pa.RecordBatch], rest: Iterator[pa.RecordBatch]) -> None:
    """Leave ``read`` (batches already parsed) and ``rest`` (the open remainder) under
    ``key``; without a block, close ``rest`` at once."""
    carried = _Carried(read, rest)
    if not _carried.put(key, carried):
        carried.close()


def take(key: Hashable) -> Iterator[pa.RecordBatch] | None:
    """Every batch of the read carried under ``key`` (then it is gone), or None."""
    item = _carried.pop(key)
    return item.batches() if item is not None else None
