"""Task names and lock keys, importable without the task code (no import cycles)."""

from __future__ import annotations

PROCESS_UPLOAD = "lakeport:process_upload"


def upload_lock(upload_id: str) -> str:
    """The procrastinate lock that keeps one upload's jobs strictly sequential."""
    return f"upload:{upload_id}"


DISCOVER_SOURCE = "lakeport:discover_source"
REMOVE_SOURCE_ROWS = "lakeport:remove_source_rows"


def source_lock(source_id: str) -> str:
    """One discovery at a time per source."""
    return f"source:{source_id}"


COMMIT_GROUP = "lakeport:commit_group"


def commit_lock(collection_id: str) -> str:
    """Group commits of one collection run one at a time."""
    return f"commit:{collection_id}"
