"""Parquet: inspect from the footer alone (in a child process), stream row groups.

:func:`inspect_parquet` never reads data pages: row count, row groups and schema come
from the footer, read by :mod:`.parquet_probe` in a separate interpreter so a footer that
crashes the Parquet library (it happens: see the encrypted files in the corpus) becomes
``unreadable_parquet`` instead of a dead worker. :func:`read_parquet_batches` streams
``iter_batches`` and converts each batch to the storable types chosen from the footer
(the conversion table is in :mod:`.types`). INT96 timestamps are read as microseconds,
so Spark's far-future dates do not wrap around as they would in nanoseconds.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from lakeport.domain.schema import safe_column_names
from lakeport.errors import LakeportError
from lakeport.formats.base import Inspection, target_schema
from lakeport.formats.parquet_checks import check_values
from lakeport.formats.types import Mapper, conform

PROBE_SCRIPT = Path(__file__).with_name("parquet_probe.py")
PROBE_TIMEOUT_S = 60.0
BATCH_ROWS = 65_536
#: A column chunk that decompresses to more than this cannot be streamed in bounded
#: memory (pyarrow materialises a page at a time; one value may be this big).
MAX_CHUNK_BYTES = 1 << 30


def inspect_parquet(path: Path) -> Inspection:
    """Footer-only inspection; see the module docstring."""
    probe = run_probe(path)
    if probe["max_chunk_bytes"] > MAX_CHUNK_BYTES:
        raise LakeportError(
            "unreadable_parquet",
            f"a column chunk decompresses to {probe['max_chunk_bytes']} bytes, more than the "
            f"{MAX_CHUNK_BYTES} bytes lakeport streams; rewrite the file with smaller row groups",
            {"reason": "column_chunk_too_large", "bytes": probe["max_chunk_bytes"]},
        )
    source = pa.ipc.read_schema(pa.py_buffer(base64.b64decode(probe["schema"])))
    mapper = Mapper(uint64_fits=frozenset(probe["uint64_fits"]))
    types = [mapper.storable(f.type, f.name) for f in source]
    original = [f.name for f in source]
    details: dict[str, Any] = {
        "created_by": probe["created_by"],
        "conversions": mapper.conversions,
        "source_types": {f.name: str(f.type) for f in source},
    }
    return Inspection(
        format="parquet",
        schema=target_schema(safe_column_names(original), types),
        original_names=original,
        row_count=int(probe["num_rows"]),
        num_row_groups=int(probe["num_row_groups"]),
        details=details,
    )


def run_probe(path: Path) -> dict[str, Any]:
    """The footer facts, from a child interpreter; any failure is unreadable_parquet."""
    try:
        done = subprocess.run(
            [sys.executable, "-I", str(PROBE_SCRIPT), str(path)],
            capture_output=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise _unreadable(f"reading the footer took more than {PROBE_TIMEOUT_S:.0f}s") from exc
    if done.returncode != 0:
        raise _unreadable(
            f"the Parquet library crashed reading the footer (exit {done.returncode}); the "
            "file is corrupt or encrypted",
            {"exit_code": done.returncode, "stderr": done.stderr.decode(errors="replace")[-300:]},
        )
    try:
        result: dict[str, Any] = json.loads(done.stdout.decode().strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise _unreadable("the footer probe gave no answer") from exc
    if not result.get("ok"):
        raise _unreadable(f"unreadable footer: {result.get('error', 'unknown error')}")
    return result


def _unreadable(message: str, details: dict[str, Any] | None = None) -> LakeportError:
    return LakeportError("unreadable_parquet", message, details)


def read_parquet_batches(path: Path, inspection: Inspection) -> Iterator[pa.RecordBatch]:
    """Stream the file's rows as batches of ``inspection.schema``.

    Checks pyarrow does not make: the values must be storable (valid UTF-8, decimals
    within their precision, dates and timestamps within years 1-9999; see
    :mod:`.parquet_checks`), and the row groups must hold at least the rows the footer
    promises (a corrupt column chunk can otherwise read as zero rows, silently).
    """
    schema = inspection.schema
    rows = 0
    try:
        # pre_buffer=False: pyarrow 26 otherwise reads ahead across row groups (RSS grows
        # with the file; measured 983 MB vs 137 MB on a 3 GB file).
        pf = pq.ParquetFile(str(path), coerce_int96_timestamp_unit="us", pre_buffer=False)
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, use_threads=False):
            out = _conform_batch(batch, schema)
            check_values(out, rows)
            rows += out.num_rows
            yield out
    except (OSError, pa.ArrowException) as exc:
        raise _unreadable(f"the file's data could not be decoded: {exc}") from exc
    expected = inspection.row_count or 0
    if rows < expected:
        raise _unreadable(
            f"the footer promises {expected} rows but the row groups hold {rows}",
            {"expected_rows": expected, "rows": rows},
        )


def _conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    if batch.num_columns != len(schema):
        raise _unreadable(f"a row group has {batch.num_columns} columns, the footer {len(schema)}")
    arrays = []
    for j, field in enumerate(schema):
        try:
            arrays.append(conform(batch.column(j), field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise LakeportError(
                "unsupported_type",
                f"column {field.name!r} holds a value that {field.type} cannot store: {exc}",
                {"column": field.name, "type": str(batch.schema.field(j).type)},
            ) from exc
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
