"""Joining a group commit: source files that append to an existing dataset are committed
together, many to a snapshot, so throughput is not one catalog commit per file.

An upload that joins stays ``registering`` with ``commit_group`` set to its dataset, and a
``commit_group`` job is queued for that dataset (at most one waiting: procrastinate's
queueing lock), which commits every waiting upload at once (``pipeline.group_commit``).
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lakeport.db.models import Upload
from lakeport.db.queue import enqueue
from lakeport.jobs.names import COMMIT_GROUP, commit_lock


def joins_group(upload: Upload, mode: str) -> bool:
    """Source files appending with an unchanged table schema commit in groups."""
    return (
        upload.kind == "source"
        and mode == "append"
        and not upload.plan.get("evolves_table")
        and not upload.options.get("dry_run")
    )


def request_group_commit(session: Session, upload: Upload, dataset_id: str) -> None:
    """Mark the upload as waiting and make sure a group commit is queued for the dataset."""
    upload.commit_group = dataset_id
    try:
        with session.begin_nested():
            enqueue(
                session,
                COMMIT_GROUP,
                {"dataset_id": dataset_id},
                lock=commit_lock(upload.collection_id),
                queueing_lock=f"commit-queue:{dataset_id}",
            )
    except IntegrityError:
        pass  # one is already waiting; it will take this upload too
