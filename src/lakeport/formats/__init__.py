"""File formats: detect from content, inspect to a target schema, stream record batches.

The pipeline calls two functions:

* :func:`inspect` detects the format from the bytes (never the file name), decides the
  target schema (safe column names, Iceberg-storable Arrow types) and counts rows where
  that is cheap or already necessary (Parquet footer; CSV's full type-inference pass).
* :func:`read_batches` streams batches that conform *exactly* to ``inspection.schema``,
  in bounded memory, raising :class:`~lakeport.errors.LakeportError` for bad rows.

Bad rows (:class:`RowError`: a CSV row with the wrong number of fields; a JSON record
that does not decode, is not an object, or does not fit the file's shape) fail the
read under ``on_error="abort"``. Under ``"skip_row"`` both passes leave them out (so
they never shape the schema) and :func:`read_batches` reports each as a :class:`Reject`.
Everything else (format, encoding, compression, Parquet, Excel) is file-level: it
fails in both modes.

One module per format; this one only dispatches.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pyarrow as pa

from lakeport.errors import LakeportError
from lakeport.formats.base import (
    ON_ERROR,
    Finish,
    Inspection,
    OnError,
    ReadOptions,
    Reject,
    RejectHandler,
    RowError,
    Tabular,
    TypesChanged,
)
from lakeport.formats.detect import detect
from lakeport.formats.types import iceberg_type_name

__all__ = [
    "ON_ERROR",
    "Finish",
    "Inspection",
    "OnError",
    "ReadOptions",
    "Reject",
    "RejectHandler",
    "RowError",
    "Tabular",
    "TypesChanged",
    "iceberg_type_name",
    "inspect",
    "preload_readers",
    "read_batches",
    "read_stages",
    "skips_rows",
]


def inspect(
    path: Path,
    options: ReadOptions = ReadOptions(),  # noqa: B008
    sample_bytes: int | None = None,
) -> Inspection:
    """Detect the format of ``path`` and decide its target schema.

    With ``sample_bytes``, a delimited file larger than that is typed from its first
    ``sample_bytes`` of text only (``row_count`` is then None) and :func:`read_batches`
    checks every later value against those types, raising :class:`TypesChanged` when
    one does not fit: the caller then inspects again without a sample.
    """
    path = Path(path)
    found = detect(path, options)
    if found.format == "parquet":
        from lakeport.formats.parquet import inspect_parquet

        return inspect_parquet(path)
    if found.format == "csv":
        from lakeport.formats.csv import inspect_csv

        return inspect_csv(path, found, options, sample_bytes)
    if found.format == "json":
        from lakeport.formats.json import inspect_json

        return inspect_json(path, found, options)
    if found.format == "xlsx":
        from lakeport.formats.excel import inspect_excel

        return inspect_excel(path, options)
    raise LakeportError("unsupported_format", f"format {found.format!r} is not supported")


def preload_readers() -> None:
    """Import every format's reader now. :func:`inspect` and :func:`read_stages` import
    them on first use, so the API and CLI start without them; a worker calls this at
    start-up, so its first file does not pay the imports (15 ms for CSV alone)."""
    import lakeport.formats.csv
    import lakeport.formats.excel
    import lakeport.formats.json
    import lakeport.formats.parquet  # noqa: F401


def skips_rows(inspection: Inspection) -> bool:
    """Whether the inspection was made under ``on_error="skip_row"`` (and so the second
    pass must skip, and report, the same rows the first one skipped)."""
    return inspection.details.get("on_error") == "skip_row"


def read_batches(
    path: Path,
    inspection: Inspection,
    options: ReadOptions = ReadOptions(),  # noqa: B008
    on_reject: RejectHandler | None = None,
) -> Iterator[pa.RecordBatch]:
    """Stream ``path`` as batches of ``inspection.schema``.

    ``options`` is accepted for symmetry with :func:`inspect`; everything a reader needs
    (``on_error`` included) was recorded in ``inspection.details`` so the second pass
    reproduces the first. Under ``skip_row`` bad rows go to ``on_reject``; without a
    handler they fail the read as under ``abort``, so a row is never dropped unreported.
    """
    raw, finish = read_stages(path, inspection, options, on_reject)
    return (cast(pa.RecordBatch, finish(batch)) for batch in raw)


def read_stages(
    path: Path,
    inspection: Inspection,
    options: ReadOptions = ReadOptions(),  # noqa: B008
    on_reject: RejectHandler | None = None,
) -> tuple[Iterator[pa.RecordBatch], Finish]:
    """:func:`read_batches` in two halves: raw batches in file order, and a function
    that turns raw rows (one batch, or a row group of them as a table) into rows of
    ``inspection.schema`` independently of the others, so callers may run it on
    several threads and on row groups at once. Only delimited text has a second
    half worth the name (text to typed columns); other formats return the identity.
    """
    path = Path(path)
    fmt = inspection.format
    handler = on_reject if skips_rows(inspection) else None
    if fmt == "parquet":
        from lakeport.formats.parquet import read_parquet_batches

        return read_parquet_batches(path, inspection), _as_is
    if fmt in ("csv", "tsv"):
        from lakeport.formats.csv import csv_stages

        return csv_stages(path, inspection, handler)
    if fmt == "json":
        from lakeport.formats.json import read_json_batches

        return read_json_batches(path, inspection, handler), _as_is
    if fmt == "xlsx":
        from lakeport.formats.excel import read_excel_batches

        return read_excel_batches(path, inspection, options), _as_is
    raise LakeportError("unsupported_format", f"format {fmt!r} is not supported")


def _as_is(data: Tabular) -> Tabular:
    return data
