"""The two values every format reader shares: what the caller asks for, what we found.

:class:`Inspection` must survive a worker's death (the pipeline stores it as JSON plus the
Arrow schema as IPC bytes), so ``details`` holds only JSON-safe values and everything a
reader's second pass needs to reproduce the first pass exactly (dialect, encoding,
compression, the byte offset where data starts ...). A reader never re-sniffs in
:func:`read_batches`: the same bytes + the same inspection always give the same rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import pyarrow as pa

from lakeport.errors import LakeportError

#: Formats a user may name in :attr:`ReadOptions.format`.
FORMATS: tuple[str, ...] = ("csv", "tsv", "json", "parquet", "xlsx")

#: Tokens read as null in every text column. ``NaN`` is deliberately absent: it is a
#: float value (turned into null only once a column is known to be a float column),
#: and in a string column it stays the literal text the user wrote.
DEFAULT_NULL_VALUES: tuple[str, ...] = ("", "NA", "N/A", "NULL", "null")

#: Rows in columns: one batch, or a row group of batches as a table.
Tabular: TypeAlias = pa.RecordBatch | pa.Table
#: Turns raw rows (a reader's first half, e.g. CSV text) into rows of the target schema,
#: each batch or row group independently of the others (:func:`~lakeport.formats.read_stages`).
Finish = Callable[[Tabular], Tabular]

#: Rows per batch for readers that build batches themselves (JSON, Excel).
BATCH_ROWS = 65_536

OnError = Literal["abort", "skip_row"]
#: What a bad row does: ``abort`` fails the upload naming it, ``skip_row`` leaves it
#: out and reports it as a :class:`Reject`.
ON_ERROR: tuple[OnError, ...] = ("abort", "skip_row")


@dataclass(frozen=True)
class ReadOptions:
    """User overrides; every ``None`` means "detect from the content"."""

    format: str | None = None
    delimiter: str | None = None
    header: bool | None = None
    encoding: str | None = None
    null_values: tuple[str, ...] | None = None
    sheet: str | None = None
    on_error: OnError = "abort"

    def nulls(self) -> tuple[str, ...]:
        """The null tokens in force."""
        return DEFAULT_NULL_VALUES if self.null_values is None else tuple(self.null_values)


@dataclass
class Inspection:
    """What :func:`lakeport.formats.inspect` learned about a file.

    ``schema`` is the *target* schema: safe column names and Iceberg-storable Arrow types.
    ``read_batches`` yields batches with exactly this schema.
    """

    format: str
    schema: pa.Schema
    original_names: list[str]
    row_count: int | None
    num_row_groups: int | None
    details: dict[str, Any] = field(default_factory=dict)


def target_schema(names: list[str], types: list[pa.DataType]) -> pa.Schema:
    """A schema of nullable fields: nullability is not part of a lakeport schema."""
    return pa.schema([pa.field(n, t, nullable=True) for n, t in zip(names, types, strict=True)])


#: Characters of a bad row kept as a reject's value: enough to find the row, while a
#: runaway row (an unclosed quote, a minified document) cannot bloat the rejects list.
REJECT_VALUE_CHARS = 1000


@dataclass(frozen=True)
class Reject:
    """One row left out under ``on_error="skip_row"``: where it is, and why.

    ``line`` is the 1-based physical line the row starts on (None only when it cannot be
    told); ``column`` names the column the problem is in, as the file names it, when the
    problem is in one column; ``value`` is the offending text, usually the raw row.
    """

    line: int | None
    column: str | None
    value: str | None
    reason: str


#: Receives each rejected row, in file order, while a reader streams.
RejectHandler = Callable[[Reject], None]


class TypesChanged(Exception):
    """A file typed from a sample holds a value its sample's types do not fit (or a
    column empty in the sample turns out typed): type the whole file, convert again."""


class RowError(LakeportError):
    """A problem confined to one row, so that the rows around it are still readable.

    Under ``abort`` it fails the upload like any error (its details name the line,
    column and value); under ``skip_row`` the reader hands :attr:`reject` to its
    handler and goes on. Only readers that can resume after the row raise it: a
    problem that makes the rest of the file unreadable is a plain LakeportError.
    """

    def __init__(
        self, code: str, message: str, reject: Reject, details: dict[str, Any] | None = None
    ) -> None:
        base = {"line": reject.line, "column": reject.column, "value": reject.value}
        super().__init__(code, message, base | (details or {}))
        self.reject = reject

    def fatal(self) -> LakeportError:
        """The same error as a plain one, where no reader can resume after the row."""
        return LakeportError(self.code, self.message, self.details)


def deliver(error: RowError, on_reject: RejectHandler | None) -> None:
    """Hand a bad row to the handler, or raise it when there is none (``abort``)."""
    if on_reject is None:
        raise error
    on_reject(error.reject)


class RejectCounter:
    """A handler that only counts: the inspection pass skips bad rows, reports none."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, reject: Reject) -> None:
        self.count += 1
