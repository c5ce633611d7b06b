"""Values a Parquet file may hold that no Iceberg reader should ever see.

pyarrow decodes these without complaint, and the worker would write them on into the
table, where they break readers much later and far from their cause:

* strings that are not UTF-8 (the STRING annotation promises UTF-8): ``encoding_error``;
* decimals with more digits than their declared precision: ``unreadable_parquet``
  (the file contradicts its own schema);
* dates and timestamps outside years 1-9999, which Iceberg's own libraries (and most
  engines) cannot turn into calendar values: ``unsupported_type``.

Checks run per batch on the already converted columns; the cost is one validation
pass over string and decimal columns and a min/max over date and timestamp columns.
"""

from __future__ import annotations

import datetime as dt
import re

import pyarrow as pa
import pyarrow.compute as pc

from lakeport.errors import LakeportError

_STRING_INDEX = re.compile(r"string index (\d+)")
_EPOCH = dt.date(1970, 1, 1)
#: Days and microseconds since 1970 of 0001-01-01 and of 9999-12-31 (end of day).
_DAYS = ((dt.date(1, 1, 1) - _EPOCH).days, (dt.date(9999, 12, 31) - _EPOCH).days)
_MICROS = (_DAYS[0] * 86_400_000_000, (_DAYS[1] + 1) * 86_400_000_000 - 1)


def check_values(batch: pa.RecordBatch, offset: int) -> None:
    """Raise for the first unstorable value in ``batch`` (rows ``offset + 1`` ...)."""
    for j, field in enumerate(batch.schema):
        column = batch.column(j)
        if _needs_validation(field.type):
            _validate(column, field, offset)
        if pa.types.is_timestamp(field.type) or pa.types.is_date(field.type):
            _check_range(column, field)


def _needs_validation(dtype: pa.DataType) -> bool:
    if pa.types.is_string(dtype) or pa.types.is_decimal(dtype):
        return True
    if pa.types.is_struct(dtype):
        return any(_needs_validation(f.type) for f in dtype)
    if pa.types.is_list(dtype):
        return _needs_validation(dtype.value_type)
    if pa.types.is_map(dtype):
        return _needs_validation(dtype.key_type) or _needs_validation(dtype.item_type)
    return False


def _validate(column: pa.Array, field: pa.Field, offset: int) -> None:
    try:
        column.validate(full=True)
    except pa.ArrowInvalid as exc:
        reason = str(exc)
        if "UTF8" not in reason:
            raise LakeportError(
                "unreadable_parquet",
                f"column {field.name!r} holds values its declared type cannot: {reason[:200]}",
                {"column": field.name, "type": str(field.type)},
            ) from exc
        found = _STRING_INDEX.search(reason)
        index = int(found.group(1)) if found and field.type == pa.string() else 0
        row = offset + 1 + index
        raise LakeportError(
            "encoding_error",
            f"column {field.name!r} holds bytes that are not UTF-8 text (row {row})",
            {"column": field.name, "row": row, "reason": reason[:200]},
        ) from exc


def _check_range(column: pa.Array, field: pa.Field) -> None:
    if column.null_count == len(column):
        return
    if pa.types.is_date(field.type):
        low, high = _DAYS
        bounds = pc.min_max(column.cast(pa.int32()))
    else:
        low, high = _MICROS
        bounds = pc.min_max(column.cast(pa.int64()))
    if bounds["min"].as_py() < low or bounds["max"].as_py() > high:
        raise LakeportError(
            "unsupported_type",
            f"column {field.name!r} holds a {field.type} outside the years 1-9999",
            {"column": field.name, "type": str(field.type)},
        )
