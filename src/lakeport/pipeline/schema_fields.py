"""An Arrow schema as the ``[{name, type, nullable}]`` fields lakeport shows and compares."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from lakeport.formats import iceberg_type_name


def schema_fields(schema: pa.Schema) -> list[dict[str, Any]]:
    """Field list with Iceberg type names (the names the fingerprint is computed over)."""
    return [
        {"name": f.name, "type": iceberg_type_name(f.type), "nullable": f.nullable} for f in schema
    ]
