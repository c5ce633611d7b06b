"""Ragged rows under ``on_error="skip_row"``: skipped by pyarrow, located by Python.

A delimited row whose field count differs from the header's is the one row-level error
of delimited text (types are chosen over the whole file, so no value fails a cast
later). pyarrow's ``invalid_row_handler`` skips such rows in both passes, so the
inference pass never sees them and the schema is not polluted; the handler only queues
the row (it runs inside pyarrow, possibly on a reader thread, where an exception would
be swallowed), and the reader hands the queue over between batches.

pyarrow does not know a streamed row's line number, so each skipped row is paired, in
order, with the next ragged row of a lazy quote-aware scan (:func:`csv_errors.bad_rows`)
that only runs when a row was skipped and only as far as the last one. When the two
readers disagree about a row (never seen in practice) its line is reported as null
rather than guessed.

Undecodable bytes stay fatal (``encoding_error``) even under ``skip_row``: the encoding
is chosen from the head of the file, and a byte that does not decode later almost
always means the whole file was guessed wrong, so skipping "bad" rows would silently
drop every row holding an accented letter.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lakeport.errors import LakeportError
from lakeport.formats import csv_errors
from lakeport.formats.base import Reject, RejectHandler

if TYPE_CHECKING:
    from lakeport.formats.csv import CsvPlan


class SkippedRows:
    """pyarrow's ``invalid_row_handler``: skip the row, count it, maybe queue it."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.count = 0
        #: ``(actual field count, raw row text)``; a deque, as pyarrow may append from
        #: its reader thread while the consumer drains.
        self.pending: deque[tuple[int, str]] = deque()

    def __call__(self, row: Any) -> str:
        self.count += 1
        if self.keep:
            self.pending.append((int(row.actual_columns), str(row.text)))
        return "skip"


class RejectReporter:
    """Turns queued skipped rows into :class:`Reject` records with their lines."""

    def __init__(self, plan: CsvPlan, names: list[str], on_reject: RejectHandler) -> None:
        self.skipped = SkippedRows(keep=True)
        self._plan = plan
        self._names = names
        self._on_reject = on_reject
        self._scan: Iterator[tuple[int, list[str]]] | None = None

    def drain(self) -> None:
        """Report every row skipped so far (called between batches and at the end)."""
        pending = self.skipped.pending
        while pending:
            actual, text = pending.popleft()
            self._on_reject(self._reject(actual, text))

    def _reject(self, actual: int, text: str) -> Reject:
        width = len(self._names)
        column = self._names[actual] if actual < width else None
        reason = f"the row has {actual} fields but the header has {width}"
        return Reject(self._line(actual), column, text, reason)

    def _line(self, actual: int) -> int | None:
        if self._scan is None:
            self._scan = csv_errors.bad_rows(self._plan)
        try:
            found = next(self._scan, None)
        except LakeportError:
            self._scan = iter(())  # the slow scan lost the quoting: no more lines
            return None
        if found is None or len(found[1]) != actual:
            return None
        return found[0]
