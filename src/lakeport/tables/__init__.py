"""Iceberg tables: catalog loading, staged writes, exactly-once commits, reads.

Only this package imports pyiceberg."""
