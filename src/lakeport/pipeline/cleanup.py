"""Undoing an upload's partial work after a failure: nothing half-written survives.

Staged Parquet files are deleted; a table this upload created but never committed to
is dropped. The landing object is kept (the failed row and its object go together at
retention time, so a user can inspect or retry).
"""

from __future__ import annotations

import logging

from pyiceberg.io import load_file_io
from sqlalchemy.orm import Session

from lakeport.db import quota
from lakeport.db.models import Upload
from lakeport.pipeline.targets import Target
from lakeport.runtime import Runtime
from lakeport.tables.commit import drop_table, find_marked_snapshot, load_table
from lakeport.tables.staging import delete_staged

logger = logging.getLogger(__name__)


def discard_upload_outputs(rt: Runtime, upload: Upload) -> None:
    """Remove staged files and any empty table this upload created."""
    plan = upload.plan
    if "target" not in plan:
        return
    target = Target.from_plan(plan["target"])
    staged = [f["path"] for f in plan.get("staged", [])]
    table = load_table(rt.catalog, target.identifier)
    if table is not None and find_marked_snapshot(table, upload.id) is not None:
        return  # committed: the table owns these files now
    if staged:
        delete_staged(load_file_io(rt.catalog.properties, target.location), staged)
    ours = table is not None and table.location() == target.location
    if target.mode == "create" and ours and table is not None and table.current_snapshot() is None:
        drop_table(rt.catalog, target.identifier)


def give_back_quota(session: Session, upload: Upload) -> None:
    """An upload that stores nothing (failed, duplicate, dry run) is charged nothing."""
    quota.release_used(session, upload.org_id, upload.user_id, upload.charged_bytes)
    quota.release_reserved(session, upload.org_id, upload.user_id, upload.reserved_bytes)
    upload.charged_bytes = 0
    upload.reserved_bytes = 0
