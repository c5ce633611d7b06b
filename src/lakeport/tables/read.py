"""Reading rows back from an Iceberg table for the API's preview endpoint."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from pyiceberg.table import Table


def read_rows(table: Table, limit: int, offset: int) -> tuple[list[str], list[list[Any]]]:
    """Columns and JSON-ready rows ``offset .. offset+limit`` of the current snapshot.

    The scan stops after ``offset + limit`` rows, so a preview never reads a whole table.
    """
    columns = [field.name for field in table.schema().fields]
    if table.current_snapshot() is None:
        return columns, []
    arrow = table.scan(limit=offset + limit).to_arrow().slice(offset, limit)
    rows = [[_jsonable(v) for v in row.values()] for row in arrow.to_pylist()]
    return columns, rows


def _jsonable(value: Any) -> Any:
    """Values JSON cannot carry natively become strings (dates, decimals, bytes)."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value
