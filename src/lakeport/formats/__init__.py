"""File formats: detect from content, inspect to a target schema, stream record batches.

The pipeline calls two functions:

* :func:`inspect` detects the format from the bytes (never the file name), decides the
  target schema (safe column names, Iceberg-storable Arrow types) and counts rows where
  that is cheap or already necessary (Parquet footer; CSV's full type-inference pass).
* :func:`read_batches` streams batches that conform *exactly* to ``inspection.schema``,
  in bounded memory, raising :class:`~lakeport.errors.LakeportError` for bad rows.

One module per format; this one only dispatches.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from lakeport.errors import LakeportError
from lakeport.formats.base import Inspection, ReadOptions
from lakeport.formats.detect import detect
from lakeport.formats.types import iceberg_type_name

__all__ = ["Inspection", "ReadOptions", "iceberg_type_name", "inspect", "read_batches"]


def inspect(path: Path, options: ReadOptions = ReadOptions()) -> Inspection:  # noqa: B008
    """Detect the format of ``path`` and decide its target schema."""
    path = Path(path)
    found = detect(path, options)
    if found.format == "parquet":
        from lakeport.formats.parquet import inspect_parquet

        return inspect_parquet(path)
    if found.format == "csv":
        from lakeport.formats.csv import inspect_csv

        return inspect_csv(path, found, options)
    if found.format == "json":
        from lakeport.formats.json import inspect_json

        return inspect_json(path, found, options)
    if found.format == "xlsx":
        from lakeport.formats.excel import inspect_excel

        return inspect_excel(path, options)
    raise LakeportError("unsupported_format", f"format {found.format!r} is not supported")


def read_batches(
    path: Path,
    inspection: Inspection,
    options: ReadOptions = ReadOptions(),  # noqa: B008
) -> Iterator[pa.RecordBatch]:
    """Stream ``path`` as batches of ``inspection.schema``.

    ``options`` is accepted for symmetry with :func:`inspect`; everything a reader needs
    was recorded in ``inspection.details`` so the second pass reproduces the first.
    """
    path = Path(path)
    fmt = inspection.format
    if fmt == "parquet":
        from lakeport.formats.parquet import read_parquet_batches

        return read_parquet_batches(path, inspection)
    if fmt in ("csv", "tsv"):
        from lakeport.formats.csv import read_csv_batches

        return read_csv_batches(path, inspection)
    if fmt == "json":
        from lakeport.formats.json import read_json_batches

        return read_json_batches(path, inspection)
    if fmt == "xlsx":
        from lakeport.formats.excel import read_excel_batches

        return read_excel_batches(path, inspection, options)
    raise LakeportError("unsupported_format", f"format {fmt!r} is not supported")
