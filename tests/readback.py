"""Reading a registered dataset back with pyiceberg and with DuckDB, as any engine would."""

from __future__ import annotations

import glob
from typing import Any

import duckdb
import pyarrow as pa
from pyiceberg.catalog import load_catalog


def iceberg_table(database_url: str, warehouse: str, identifier: list[str]) -> Any:
    catalog = load_catalog(
        "lakeport",
        type="sql",
        warehouse=warehouse,
        uri=database_url.replace("postgresql://", "postgresql+psycopg://", 1),
    )
    try:
        return catalog.load_table(tuple(identifier))
    finally:
        catalog.engine.dispose()  # the loaded table reads files, not the catalog


def read_with_pyiceberg(table: Any) -> pa.Table:
    return table.scan().to_arrow()


def read_with_duckdb(metadata_location: str) -> pa.Table:
    """DuckDB's own Iceberg reader (extension shipped as a PyPI package: no download)."""
    import duckdb_extension_avro
    import duckdb_extension_iceberg

    con = duckdb.connect()
    try:
        for module in (duckdb_extension_avro, duckdb_extension_iceberg):
            path = glob.glob(f"{module.__path__[0]}/extensions/*/*.duckdb_extension")[0]
            con.execute(f"LOAD '{path}'")
        return con.execute("SELECT * FROM iceberg_scan(?)", [metadata_location]).to_arrow_table()
    finally:
        con.close()
