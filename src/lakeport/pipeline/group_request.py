"""Joining a group commit: source files that append to an existing dataset are committed
together, many to a snapshot, so throughput is not one catalog commit per file.

An upload that joins stays ``registering`` with ``commit_group`` set to its dataset (in
the register step's transaction), and *after that transaction commits* a
``commit_group`` job is queued for the dataset (at most one waiting: procrastinate's
queueing lock). The order matters: queueing inside the same transaction would race with
a waiting job that starts before the upload commits, reads no waiting uploads, and
ends, leaving the upload ``registering`` with nobody to commit it. Queued after the
commit, either the insert finds a job still ``todo`` (which, when it runs, sees this
upload) or it queues a new one. A worker that dies in between leaves the upload's own
job stalled; it is handed back and runs the register step again, which queues again.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lakeport.db.models import Upload
from lakeport.db.queue import enqueue
from lakeport.jobs.names import COMMIT_GROUP, commit_lock
from lakeport.runtime import Runtime


def joins_group(upload: Upload, mode: str) -> bool:
    """Source files appending with an unchanged table schema commit in groups."""
    return (
        upload.kind == "source"
        and mode == "append"
        and not upload.plan.get("evolves_table")
        and not upload.options.get("dry_run")
    )


def request_group_commit(upload: Upload, dataset_id: str) -> None:
    """Mark the upload as waiting for the group commit of ``dataset_id``."""
    upload.commit_group = dataset_id


def queue_group_commit(rt: Runtime, upload_id: str) -> None:
    """Make sure a group commit is queued for the dataset the upload waits on.

    Files share a snapshot for up to ``sources.commit_wait_seconds``: the first file
    to wait queues a commit that far ahead. Once ``sources.commit_batch_files`` wait,
    a second, immediate commit is queued (under its own queueing lock), so a full
    batch never sits out the window.
    """
    settings = rt.settings.sources
    with rt.sessions.begin() as session:
        upload = session.get(Upload, upload_id)
        if upload is None or upload.commit_group is None:
            return  # committed (or failed) meanwhile
        dataset_id = upload.commit_group
        _enqueue_once(session, upload.collection_id, dataset_id, settings.commit_wait_seconds)
        if settings.commit_wait_seconds > 0 and _waiting(session, dataset_id) >= (
            settings.commit_batch_files
        ):
            _enqueue_once(session, upload.collection_id, dataset_id, 0)


def _waiting(session: Session, dataset_id: str) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Upload)
            .where(Upload.commit_group == dataset_id, Upload.completion_status == "registering")
        )
        or 0
    )


def _enqueue_once(session: Session, collection_id: str, dataset_id: str, delay: float) -> None:
    kind = "later" if delay > 0 else "now"
    try:
        with session.begin_nested():
            enqueue(
                session,
                COMMIT_GROUP,
                {"dataset_id": dataset_id},
                lock=commit_lock(collection_id),
                queueing_lock=f"commit-{kind}:{dataset_id}",
                delay_seconds=delay,
                # A waiting "later" job holds the collection's lock queue; a full batch
                # must not queue behind it.
                priority=0 if delay > 0 else 1,
            )
    except IntegrityError:
        pass  # one is waiting and has not started; it will take this upload too
