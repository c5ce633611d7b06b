"""Excel workbooks (.xlsx, via python-calamine): one sheet becomes one table.

The first sheet is read unless :attr:`ReadOptions.sheet` names another. The first row is
the header when every non-empty cell in it is text (or when the user says so). Excel
stores every number as a double, so a numeric column whose values are all whole numbers
(within +-2**53) is ``long``; otherwise ``double``. A column mixing dates and
date-times is ``timestamp``; any other mix (numbers and text, ...) is ``string``, each
value rendered as it reads (``1`` not ``1.0``, dates in ISO 8601). Empty cells are null.

An xlsx sheet has to be unpacked whole by any reader, so memory grows with the sheet
(Excel caps a sheet at 1,048,576 rows); batches are still yielded one at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakeport.domain.schema import safe_column_names
from lakeport.errors import LakeportError
from lakeport.formats.base import BATCH_ROWS, Inspection, ReadOptions, target_schema

EXACT_INT = 2**53
_TYPES: dict[str, pa.DataType] = {
    "null": pa.string(),
    "bool": pa.bool_(),
    "int": pa.int64(),
    "float": pa.float64(),
    "date": pa.date32(),
    "datetime": pa.timestamp("us"),
    "time": pa.time64("us"),
    "string": pa.string(),
}
_JOINS: dict[frozenset[str], str] = {
    frozenset({"int", "float"}): "float",
    frozenset({"date", "datetime"}): "datetime",
}


def _kind(value: Any) -> str:
    if value is None or value == "":
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        whole = isinstance(value, int) or (value.is_integer() and abs(value) < EXACT_INT)
        return "int" if whole else "float"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    if isinstance(value, dt.time):
        return "time"
    return "string"


def _join(a: str, b: str) -> str:
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    return _JOINS.get(frozenset({a, b}), "string")


def _open_sheet(path: Path, sheet: str | None) -> Any:
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(path))
    except Exception as exc:  # calamine raises its own error types
        raise LakeportError("parse_error", f"unreadable workbook: {exc}") from exc
    names = list(book.sheet_names)
    if not names:
        raise LakeportError("empty_file", "the workbook has no sheets")
    if sheet is not None and sheet not in names:
        raise LakeportError(
            "bad_request", f"the workbook has no sheet {sheet!r}", {"sheets": names}
        )
    return book.get_sheet_by_name(sheet or names[0])


def _rows(path: Path, sheet: str | None) -> tuple[str, Iterator[list[Any]]]:
    """The chosen sheet's name and its rows."""
    found = _open_sheet(path, sheet)
    return str(found.name), iter(found.iter_rows())


def inspect_excel(path: Path, options: ReadOptions) -> Inspection:
    """Type every column of the sheet over all its rows."""
    sheet, rows = _rows(path, options.sheet)
    first = next(rows, None)
    if first is None or all(_kind(v) == "null" for v in first):
        raise LakeportError("empty_file", "the sheet is empty")
    header = _is_header(first) if options.header is None else options.header
    names = [_text(v) for v in first] if header else _generated(len(first))
    kinds = ["null"] * len(first)
    count = 0
    for row in rows if header else _chain(first, rows):
        count += 1
        for j, value in enumerate(row):
            kinds[j] = _join(kinds[j], _kind(value))
    details = {"sheet": sheet, "header": header, "kinds": kinds}
    schema = target_schema(safe_column_names(names), [_TYPES[k] for k in kinds])
    return Inspection("xlsx", schema, names, count, None, details)


def _is_header(first: list[Any]) -> bool:
    kinds = {_kind(v) for v in first} - {"null"}
    return kinds == {"string"}


def _generated(width: int) -> list[str]:
    return [f"column_{i}" for i in range(1, width + 1)]


def _chain(first: list[Any], rest: Iterator[list[Any]]) -> Iterator[list[Any]]:
    yield first
    yield from rest


def read_excel_batches(
    path: Path, inspection: Inspection, options: ReadOptions
) -> Iterator[pa.RecordBatch]:
    """Stream the sheet as batches of ``inspection.schema``."""
    details = inspection.details
    kinds: list[str] = details["kinds"]
    _, rows = _rows(path, details["sheet"])
    if details["header"]:
        next(rows, None)
    pending: list[list[Any]] = []
    for row in rows:
        pending.append(row)
        if len(pending) >= BATCH_ROWS:
            yield _batch(pending, kinds, inspection.schema)
            pending = []
    if pending:
        yield _batch(pending, kinds, inspection.schema)


def _batch(rows: list[list[Any]], kinds: list[str], schema: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for j, kind in enumerate(kinds):
        values = [_value(row[j] if j < len(row) else None, kind) for row in rows]
        arrays.append(pa.array(values, type=_TYPES[kind]))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _value(value: Any, kind: str) -> Any:
    if value is None or value == "":
        return None
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "datetime" and not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    if kind in ("string", "null"):
        return _text(value)
    return value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < EXACT_INT:
        return str(int(value))
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)
