"""The group commit job: every upload waiting on a dataset, committed in one snapshot.

Runs under the collection's advisory lock (the same one single commits take). The
snapshot lists its upload IDs, so a job that dies after the catalog commit and runs
again finds them committed and only records the outcome. Each upload is then marked
``registered`` (and its source file ``succeeded``) in the same database transaction.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakeport.db import uploads as repo
from lakeport.db.locks import lock_collection
from lakeport.db.models import Dataset, Upload, utcnow
from lakeport.errors import LakeportError
from lakeport.pipeline.runner import after_terminal, fail_upload
from lakeport.runtime import Runtime
from lakeport.sources.progress import advance_run
from lakeport.tables.commit import commit_group, load_table, table_stats


def commit_waiting(rt: Runtime, dataset_id: str) -> int:
    """Commit waiting uploads of ``dataset_id`` in batches; returns how many landed."""
    total = 0
    while (n := _commit_batch(rt, dataset_id)) > 0:
        total += n
    return total


def _commit_batch(rt: Runtime, dataset_id: str) -> int:
    with rt.sessions.begin() as session:
        waiting = list(
            session.scalars(
                select(Upload)
                .where(Upload.commit_group == dataset_id, Upload.completion_status == "registering")
                .order_by(Upload.created_at)
                .limit(rt.settings.sources.commit_batch_files)
                .with_for_update(skip_locked=True)
            )
        )
        if not waiting:
            return 0
        dataset = session.get(Dataset, dataset_id)
        table = (
            load_table(rt.catalog, [*dataset.namespace, dataset.table_name])
            if dataset is not None
            else None
        )
        if dataset is None or table is None:
            orphans = [u.id for u in waiting]
        else:
            lock_collection(session, dataset.collection_id)
            commit_group(table, {u.id: _files(u) for u in waiting})
            dataset.row_count, dataset.size_bytes = table_stats(table)
            dataset.updated_at = utcnow()
            runs = {_registered(rt, session, upload, dataset_id) for upload in waiting}
            for run_id in sorted(r for r in runs if r is not None):
                advance_run(session, run_id)
            return len(waiting)
    for upload_id in orphans:  # the dataset was deleted while they waited
        fail_upload(
            rt,
            upload_id,
            "register",
            LakeportError("not_found", "the target dataset was deleted during the upload"),
        )
    return 0


def _files(upload: Upload) -> tuple[list[str], list[str]]:
    return (
        [f["path"] for f in upload.plan.get("staged", [])],
        list(upload.plan.get("replaces", [])),
    )


def _registered(rt: Runtime, session: Session, upload: Upload, dataset_id: str) -> str | None:
    upload.commit_group = None
    upload.dataset_id = dataset_id
    upload.rows_loaded = sum(int(f["rows"]) for f in upload.plan.get("staged", []))
    upload.status = "registered"
    upload.expires_at = utcnow() + timedelta(days=rt.settings.uploads.keep_registered_days)
    repo.log_step(upload, "register", "end", "registered")
    return after_terminal(session, upload, advance_run=False)
