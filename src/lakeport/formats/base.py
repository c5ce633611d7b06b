"""The two values every format reader shares: what the caller asks for, what we found.

:class:`Inspection` must survive a worker's death (the pipeline stores it as JSON plus the
Arrow schema as IPC bytes), so ``details`` holds only JSON-safe values and everything a
reader's second pass needs to reproduce the first pass exactly (dialect, encoding,
compression, the byte offset where data starts ...). A reader never re-sniffs in
:func:`read_batches`: the same bytes + the same inspection always give the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

#: Formats a user may name in :attr:`ReadOptions.format`.
FORMATS: tuple[str, ...] = ("csv", "tsv", "json", "parquet", "xlsx")

#: Tokens read as null in every text column. ``NaN`` is deliberately absent: it is a
#: float value (turned into null only once a column is known to be a float column),
#: and in a string column it stays the literal text the user wrote.
DEFAULT_NULL_VALUES: tuple[str, ...] = ("", "NA", "N/A", "NULL", "null")

#: Rows per batch for readers that build batches themselves (JSON, Excel).
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class ReadOptions:
    """User overrides; every ``None`` means "detect from the content"."""

    format: str | None = None
    delimiter: str | None = None
    header: bool | None = None
    encoding: str | None = None
    null_values: tuple[str, ...] | None = None
    sheet: str | None = None

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
