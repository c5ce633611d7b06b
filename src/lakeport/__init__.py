"""lakeport: data files of any size into Apache Iceberg tables, exactly once."""

__version__ = "0.1.0"
