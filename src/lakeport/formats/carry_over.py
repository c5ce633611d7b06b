"""A typing sample's parsed text, handed from the infer step to the convert step.

The infer step types a large CSV from its first ``sample_bytes`` of text, and convert
then reads the whole file. Within one pipeline job both steps run in the same process
one after the other, so inside :func:`carry_samples` the infer step leaves its parsed
batches *and its still-open reader* here, and convert starts from them instead of
parsing those bytes again: a tenth of a 250 MB file's parse, and the encoding threads
have their first row group at once instead of after a parse of it. A context variable,
not a parameter, for the same reason as :mod:`lakeport.storage.local_copies`: the steps
meet only through the database. Outside a block, or when the key differs (another
file, other reader settings), nothing is carried and convert reads from the start,
so what is carried is an optimisation only; whatever is left at the block's end is
closed.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import pyarrow as pa


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


_carried: ContextVar[dict[Hashable, _Carried] | None] = ContextVar(
    "lakeport_carried_samples", default=None
)


@contextmanager
def carry_samples() -> Iterator[None]:
    """Let reads started inside the block be carried over; close what is left at its end."""
    carried: dict[Hashable, _Carried] = {}
    token = _carried.set(carried)
    try:
        yield
    finally:
        _carried.reset(token)
        for item in carried.values():
            item.close()


def carrying() -> bool:
    """Whether a block would keep an offered read (callers keep their batches only then)."""
    return _carried.get() is not None


def offer(key: Hashable, read: list[pa.RecordBatch], rest: Iterator[pa.RecordBatch]) -> None:
    """Leave ``read`` (batches already parsed) and ``rest`` (the open remainder) under
    ``key``; without a block, close ``rest`` at once."""
    carried = _carried.get()
    if carried is None:
        _Carried(read, rest).close()
        return
    previous = carried.pop(key, None)
    if previous is not None:
        previous.close()
    carried[key] = _Carried(read, rest)


def take(key: Hashable) -> Iterator[pa.RecordBatch] | None:
    """Every batch of the read carried under ``key`` (then it is gone), or None."""
    carried = _carried.get()
    item = carried.pop(key, None) if carried is not None else None
    return item.batches() if item is not None else None
