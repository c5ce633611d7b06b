"""Registering a compatible Parquet file as it is, without rewriting it.

When a Parquet file needs no conversion (every type storable as is, every column name
already safe, no Iceberg field IDs inside, and no cast for an append), its bytes become
the table's data file: hard-linked into the table's data directory when landing zone and
warehouse share a filesystem (constant time, whatever the size), otherwise copied
byte for byte. ``add_files`` then reads only its footer. The values themselves are not
decoded or re-validated on this path: the file is trusted as any engine reading it would.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyarrow.parquet as pq
from pyiceberg.io import FileIO

from lakeport.formats import Inspection
from lakeport.tables.staging import StagedFile, staged_path

COPY_CHUNK = 8 * 1024 * 1024


def adoptable(path: Path, found: Inspection, casts_needed: bool) -> bool:
    """Whether ``path`` can become a data file exactly as it is."""
    if found.format != "parquet" or casts_needed or found.details.get("conversions"):
        return False
    if list(found.original_names) != list(found.schema.names):
        return False
    schema = pq.read_schema(path)
    return not any(f.metadata and b"PARQUET:field_id" in f.metadata for f in schema)


def adopt(io: FileIO, path: Path, location: str, upload_id: str, rows: int) -> StagedFile:
    """Place the file in the table's data directory under its staged name."""
    dest = staged_path(location, upload_id, 0)
    if dest.startswith("file://"):
        target = Path(dest.removeprefix("file://"))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.unlink(missing_ok=True)
        try:
            os.link(path, target)
        except OSError:  # another filesystem: copy instead
            shutil.copyfile(path, target)
        return StagedFile(dest, rows)
    with path.open("rb") as source:
        out = io.new_output(dest).create(overwrite=True)
        try:
            while chunk := source.read(COPY_CHUNK):
                out.write(chunk)
        finally:
            out.close()
    return StagedFile(dest, rows)
