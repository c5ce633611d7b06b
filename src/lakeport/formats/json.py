"""JSON and NDJSON: two streaming passes, like CSV.

Pass 1 (:func:`inspect_json`) decodes every record (:mod:`.json_stream`) and widens a
type tree (:mod:`.json_types`); pass 2 (:func:`read_json_batches`) decodes them again
and converts each batch with the saved tree. Top-level keys become columns in order of
first appearance, with safe names; nested objects become structs, arrays lists.

Records given as arrays (CSV-style JSON) become columns too: a first row made only of
strings is the header, otherwise columns are ``column_1`` ... Every row must then have
the header's length, as in CSV.

Row-level errors (:class:`~lakeport.formats.base.RowError`): a record that does not
decode (:mod:`.json_stream`), a bare value where records are objects, an object among
row arrays or the reverse, a row array of the wrong length. Under ``skip_row`` the
inspection pass leaves them out too, so they never widen a type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pyarrow as pa

from lakeport.domain.schema import safe_column_names
from lakeport.errors import LakeportError
from lakeport.formats.base import (
    BATCH_ROWS,
    REJECT_VALUE_CHARS,
    Inspection,
    ReadOptions,
    Reject,
    RejectCounter,
    RejectHandler,
    RowError,
    deliver,
    target_schema,
)
from lakeport.formats.detect import Detected, text_encoding
from lakeport.formats.encoding import TextEncoding, encoding_error, first_invalid_utf8
from lakeport.formats.json_stream import Item, iter_items
from lakeport.formats.json_types import Node, convert, freeze

#: Flush a batch after this much JSON text, whatever the row count.
BATCH_CHARS = 16 << 20
MAX_COLUMNS = 10_000


def inspect_json(path: Path, found: Detected, options: ReadOptions) -> Inspection:
    """Decode every record once, widening the type of every field."""
    enc = _json_encoding(found, options)
    counter = RejectCounter() if options.on_error == "skip_row" else None
    root = Node()
    rows = 0
    shaper = _Shaper()
    for record, _size in _records(path, found.compression, enc, shaper, counter):
        root.observe_fields(record)
        rows += 1
        if len(root.fields) > MAX_COLUMNS:
            raise LakeportError(
                "unsupported_format",
                f"the records have more than {MAX_COLUMNS} distinct keys; a map keyed by "
                "data values is not a table",
            )
    if rows == 0 or not root.fields:
        skipped = f" ({counter.count} rows rejected)" if counter and counter.count else ""
        raise LakeportError("empty_file", f"the JSON holds no records with fields{skipped}")
    keys = list(root.fields)
    types = [node.arrow_type() for node in root.fields.values()]
    details: dict[str, Any] = {
        "compression": found.compression,
        "encoding": enc.codec,
        "bom_bytes": enc.bom,
        "shape": "objects" if shaper.header is None else "rows",
        "tree": root.dump(),
    }
    if counter is not None:
        details |= {"on_error": "skip_row", "rows_rejected": counter.count}
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


def read_json_batches(
    path: Path, inspection: Inspection, on_reject: RejectHandler | None = None
) -> Iterator[pa.RecordBatch]:
    """Stream the records as batches of ``inspection.schema``; bad records go to
    ``on_reject`` (given only under ``skip_row``), else fail the read."""
    details = inspection.details
    enc = TextEncoding(details["encoding"], int(details["bom_bytes"]), "inspection")
    root = freeze(Node.load(details["tree"]))
    pending: list[dict[str, Any]] = []
    chars = 0
    shaper = _Shaper()
    for record, size in _records(path, details["compression"], enc, shaper, on_reject):
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
    path: Path,
    compression: str | None,
    enc: TextEncoding,
    shaper: _Shaper,
    on_reject: RejectHandler | None,
) -> Iterator[tuple[dict[str, Any], int]]:
    """Records as dicts with their text size; bad ones go to ``on_reject`` or raise."""
    for item in iter_items(path, compression, enc, on_reject):
        try:
            record = shaper.record(item)
        except RowError as exc:
            deliver(exc, on_reject)
            continue
        if record is not None:
            yield record, item.chars


class _Shaper:
    """Turns items into dicts, whatever their shape in the file (objects or row arrays).

    The first good record fixes the shape (and, for rows, the header); a record that
    does not fit it is a :class:`RowError`.
    """

    def __init__(self) -> None:
        self.shape: str | None = None
        self.header: list[str] | None = None
        self.number = 0

    def record(self, item: Item) -> dict[str, Any] | None:
        """The record as a dict, or None for the header row."""
        self.number += 1
        value = item.value
        self.shape = _check_shape(self.shape, item, self.number)
        if isinstance(value, dict):
            return value
        if self.header is None:
            self.header = _header(value)
            if self.header is not None:
                return None
            self.header = [f"column_{i}" for i in range(1, len(value) + 1)]
        return _row(self.header, item, self.number)


def _check_shape(shape: str | None, item: Item, number: int) -> str:
    value = item.value
    found = "object" if isinstance(value, dict) else "row" if isinstance(value, list) else None
    if found is None:
        what = f"a bare {type(value).__name__}"
        return _raise(
            "unsupported_format",
            f"record {number} (line {item.line}) is {what}; JSON records must be objects "
            "(or arrays of values, one per row)",
            item,
            None,
            f"{what}, not an object",
            number,
        )
    if shape is not None and shape != found:
        this, earlier = ("an array", "objects") if found == "row" else ("an object", "arrays")
        return _raise(
            "parse_error",
            f"record {number} (line {item.line}) is {this} but earlier records are not; "
            "mix objects and row arrays in one file is not supported",
            item,
            None,
            f"{this} where the records are {earlier}",
            number,
        )
    return found


def _header(first: list[Any]) -> list[str] | None:
    if first and all(isinstance(v, str) for v in first):
        return list(first)
    return None


def _row(header: list[str], item: Item, number: int) -> dict[str, Any]:
    values = item.value
    if len(values) != len(header):
        column = header[len(values)] if len(values) < len(header) else None
        _raise(
            "parse_error",
            f"record {number} (line {item.line}) has {len(values)} values but the header "
            f"has {len(header)}",
            item,
            column,
            f"the row has {len(values)} values but the header has {len(header)}",
            number,
        )
    return dict(zip(header, values, strict=True))


def _raise(
    code: str, message: str, item: Item, column: str | None, reason: str, number: int
) -> NoReturn:
    """Raise the RowError for a record that decoded but does not fit the file's shape."""
    text = json.dumps(item.value, ensure_ascii=False)[:REJECT_VALUE_CHARS]
    reject = Reject(item.line, column, text, reason)
    raise RowError(code, message, reject, {"record": number})
