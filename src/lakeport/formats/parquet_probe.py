"""Read a Parquet footer in a throw-away process and print what it says as one JSON line.

Run as a script (``python parquet_probe.py FILE``), never imported by the worker: some
hostile footers (encrypted column metadata behind a plaintext footer) make the Parquet
C++ library *abort the process* when column-chunk metadata is touched. Here that kills
only this child; the parent sees a signal exit and reports ``unreadable_parquet``.

The script imports nothing from lakeport, so the child starts in a fraction of a second.
Output: ``{"ok": true, "schema": <base64 Arrow IPC>, "num_rows", "num_row_groups",
"uint64_fits": [...], "max_chunk_bytes", "created_by"}`` or ``{"ok": false, "error"}``.
"""

from __future__ import annotations

import base64
import json
import sys
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

INT64_MAX = 2**63 - 1


def probe(path: str) -> dict[str, Any]:
    """Everything lakeport needs from the footer; touches every column chunk's metadata."""
    pf = pq.ParquetFile(path, coerce_int96_timestamp_unit="us")
    meta = pf.metadata
    schema = pf.schema_arrow
    uint64 = [f.name for f in schema if pa.types.is_uint64(f.type)]
    max_chunk, maxima = _scan_chunks(meta, set(uint64))
    fits = [name for name in uint64 if name in maxima and maxima[name] <= INT64_MAX]
    return {
        "ok": True,
        "schema": base64.b64encode(schema.serialize().to_pybytes()).decode(),
        "num_rows": meta.num_rows,
        "num_row_groups": meta.num_row_groups,
        "uint64_fits": fits,
        "max_chunk_bytes": max_chunk,
        "created_by": meta.created_by,
    }


def _scan_chunks(meta: Any, uint64: set[str]) -> tuple[int, dict[str, int]]:
    """Largest uncompressed column chunk, and each uint64 column's max from statistics
    (a column without statistics in some row group is left out: not known to fit)."""
    max_chunk = 0
    maxima: dict[str, int] = {}
    missing: set[str] = set()
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        for j in range(group.num_columns):
            chunk = group.column(j)
            max_chunk = max(max_chunk, chunk.total_uncompressed_size)
            name = chunk.path_in_schema
            if name not in uint64:
                continue
            stats = chunk.statistics
            if stats is None or not stats.has_min_max:
                if stats is None or stats.null_count != chunk.num_values:
                    missing.add(name)
                continue
            maxima[name] = max(maxima.get(name, 0), int(stats.max))
    return max_chunk, {k: v for k, v in maxima.items() if k not in missing}


def main() -> int:
    """Probe ``argv[1]``; print one JSON line; exit 0 even for unreadable footers."""
    try:
        result = probe(sys.argv[1])
    except Exception as exc:
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
