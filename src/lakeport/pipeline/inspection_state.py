"""Persisting an :class:`~lakeport.formats.Inspection` between pipeline steps.

The infer step's result must survive a worker's death so convert can resume without
re-reading the file: the Arrow schema is stored as base64 IPC bytes in the upload's plan.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pyarrow as pa

from lakeport.formats import Inspection


def dump(inspection: Inspection) -> dict[str, Any]:
    """A JSON-safe dict from an Inspection."""
    return {
        "format": inspection.format,
        "schema": dump_schema(inspection.schema),
        "original_names": list(inspection.original_names),
        "row_count": inspection.row_count,
        "num_row_groups": inspection.num_row_groups,
        "details": json.loads(json.dumps(inspection.details, default=str)),
    }


def load(data: dict[str, Any]) -> Inspection:
    """The Inspection that :func:`dump` stored."""
    schema = load_schema(data["schema"])
    return Inspection(
        format=data["format"],
        schema=schema,
        original_names=list(data["original_names"]),
        row_count=data["row_count"],
        num_row_groups=data["num_row_groups"],
        details=dict(data["details"]),
    )


def dump_schema(schema: pa.Schema) -> str:
    """An Arrow schema as base64 IPC bytes (exact: types, nullability, metadata)."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode()


def load_schema(text: str) -> pa.Schema:
    """The schema :func:`dump_schema` stored."""
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))
