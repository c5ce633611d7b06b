"""JSON and NDJSON: two streaming passes, like CSV.

Pass 1 (:func:`inspect_json`) decodes every record (:mod:`.json_stream`) and widens a
type tree (:mod:`.json_types`); pass 2 (:func:`read_json_batches`) decodes them again
and converts each batch with the saved tree. Top-level keys become columns in order of
first appearance, with safe names; nested objects become structs, arrays lists.

Records given as arrays (CSV-style JSON) become columns too: a first row made only of
strings is the header, otherwise columns are ``column_1`` ... Every row must then have
the header's length, as in CSV.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from lakeport.domain.schema import safe_column_names
from lakeport.errors import LakeportError
from lakeport.formats.base import BATCH_ROWS, Inspection, ReadOptions, target_schema
from lakeport.formats.detect import Detected, text_encoding
from lakeport.formats.encoding import TextEncoding, encoding_error, first_invalid_utf8
from lakeport.formats.json_stream import iter_items
from lakeport.formats.json_types import Node, convert, freeze

#: Flush a batch after this much JSON text, whatever the row count.
BATCH_CHARS = 16 << 20
MAX_COLUMNS = 10_000


def inspect_json(path: Path, found: Detected, options: ReadOptions) -> Inspection:
    """Decode every record once, widening the type of every field."""
    enc = _json_encoding(found, options)
    root = Node()
    rows = 0
    header: list[str] | None = None
    for record, header in _records(path, found.compression, enc):  # noqa: B007
        root.observe_fields(record)
        rows += 1
        if len(root.fields) > MAX_COLUMNS:
            raise LakeportError(
                "unsupported_format",
                f"the records have more than {MAX_COLUMNS} distinct keys; a map keyed by "
                "data values is not a table",
            )
    if rows == 0 or not root.fields:
        raise LakeportError("empty_file", "the JSON holds no records with fields")
    keys = list(root.fields)
    types = [node.arrow_type() for node in root.fields.values()]
    details: dict[str, Any] = {
        "compression": found.compression,
        "encoding": enc.codec,
        "bom_bytes": enc.bom,
        "shape": "objects" if header is None else "rows",
        "tree": root.dump(),
    }
    schema = target_schema(safe_column_names(keys), types)
    return Inspection("json", schema, keys, rows, None, details)


def _json_encoding(found: Detected, options: ReadOptions) -> TextEncoding:
    """JSON is UTF-8 (RFC 8259) unless a BOM or the user says otherwise: no guessing a
    legacy encoding, invalid bytes are an encoding_error at their offset."""
    enc = text_encoding(found, options)
    if enc.how.startswith("not utf-8"):
        offset = first_invalid_utf8(found.head, found.complete) or 0
        raise encoding_error(offset, "utf-8")
    return enc


def read_json_batches(path: Path, inspection: Inspection) -> Iterator[pa.RecordBatch]:
    """Stream the records as batches of ``inspection.schema``."""
    details = inspection.details
    enc = TextEncoding(details["encoding"], int(details["bom_bytes"]), "inspection")
    root = freeze(Node.load(details["tree"]))
    pending: list[dict[str, Any]] = []
    chars = 0
    for record, size in _sized_records(path, details["compression"], enc):
        pending.append(record)
        chars += size
        if len(pending) >= BATCH_ROWS or chars >= BATCH_CHARS:
            yield _batch(root, pending, inspection.schema)
            pending, chars = [], 0
    if pending:
        yield _batch(root, pending, inspection.schema)


def _batch(root: Node, records: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for (key, node), field in zip(root.fields.items(), schema, strict=True):
        values = [record.get(key) for record in records]
        if node.fix:
            values = [convert(node, value) for value in values]
        arrays.append(pa.array(values, type=field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _records(
    path: Path, compression: str | None, enc: TextEncoding
) -> Iterator[tuple[dict[str, Any], list[str] | None]]:
    for record, _size, header in _shaped(path, compression, enc):
        yield record, header


def _sized_records(
    path: Path, compression: str | None, enc: TextEncoding
) -> Iterator[tuple[dict[str, Any], int]]:
    for record, size, _header in _shaped(path, compression, enc):
        yield record, size


def _shaped(
    path: Path, compression: str | None, enc: TextEncoding
) -> Iterator[tuple[dict[str, Any], int, list[str] | None]]:
    """Records as dicts, whatever their shape in the file (objects or row arrays)."""
    header: list[str] | None = None
    shape: str | None = None
    for number, item in enumerate(iter_items(path, compression, enc), start=1):
        value = item.value
        shape = _check_shape(shape, value, number)
        if isinstance(value, dict):
            yield value, item.chars, None
            continue
        if header is None:
            header = _header(value)
            if header is not None and all(isinstance(v, str) for v in value):
                continue
            header = [f"column_{i}" for i in range(1, len(value) + 1)]
        yield _row(header, value, number), item.chars, header


def _check_shape(shape: str | None, value: Any, number: int) -> str:
    found = "object" if isinstance(value, dict) else "row" if isinstance(value, list) else None
    if found is None:
        raise LakeportError(
            "unsupported_format",
            f"record {number} is a bare {type(value).__name__}; JSON records must be objects "
            "(or arrays of values, one per row)",
            {"record": number},
        )
    if shape is not None and shape != found:
        raise LakeportError(
            "parse_error",
            f"record {number} is an {'array' if found == 'row' else 'object'} but earlier "
            "records are not; mix objects and row arrays in one file is not supported",
            {"line": None, "column": None, "value": None, "record": number},
        )
    return found


def _header(first: list[Any]) -> list[str] | None:
    if first and all(isinstance(v, str) for v in first):
        return list(first)
    return None


def _row(header: list[str], values: list[Any], number: int) -> dict[str, Any]:
    if len(values) != len(header):
        raise LakeportError(
            "parse_error",
            f"record {number} has {len(values)} values but the header has {len(header)}",
            {"line": None, "column": None, "value": None, "record": number},
        )
    return dict(zip(header, values, strict=True))
