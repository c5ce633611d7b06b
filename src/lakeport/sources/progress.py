"""Moving a run forward: queue discovered files, record finished ones, close the run.

Every file becomes an upload row (``kind: "source"``) and a ``process_upload`` job, so a
source file runs the very pipeline an uploaded file does: the same resumable steps, the
same exactly-once commit, the same crash recovery. While the target dataset does not
exist yet, one file is processed alone to create it; the rest follow in parallel
(otherwise concurrent first files would race to create the table).
"""

from __future__ import annotations

import posixpath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakeport.db import sources as repo
from lakeport.db import uploads as uploads_repo
from lakeport.db.models import Source, SourceFile, SourceRun, Upload, utcnow
from lakeport.db.queue import enqueue, refresh_queue_statistics
from lakeport.jobs.names import PROCESS_UPLOAD, upload_lock
from lakeport.pipeline.targets import safe_identifier

QUEUE_BATCH = 1000
#: Jobs queued by one call of :func:`advance_run` after which the job table is analyzed
#: (:func:`~lakeport.db.queue.refresh_queue_statistics`).
ANALYZE_AFTER_QUEUED = 100


def advance_run(session: Session, run_id: str) -> None:
    """Queue what can be queued; finish the run when nothing is left to do."""
    run = session.scalar(select(SourceRun).where(SourceRun.id == run_id).with_for_update())
    if run is None or run.status != "running" or run.phase != "processing":
        return
    source = session.get(Source, run.source_id)
    if source is None:
        return
    queued, more = 0, True
    while more:
        count, more = _queue_some(session, source, run)
        queued += count
    if queued >= ANALYZE_AFTER_QUEUED:
        refresh_queue_statistics(session)  # the fetch is planned for the queue as it is
    live = repo.count_by_status(session, source.id, run.id)
    if live.get("discovered", 0) == 0 and live.get("processing", 0) == 0:
        _finish(run, live)


def _queue_some(session: Session, source: Source, run: SourceRun) -> tuple[int, bool]:
    """Queue one batch: how many files, and whether more may be queued now."""
    name = safe_identifier(source.options.get("dataset_name", source.name))
    bootstrapping = uploads_repo.get_dataset_by_name(session, source.collection_id, name) is None
    limit = QUEUE_BATCH
    if bootstrapping:
        if repo.processing_count(session, source.id) > 0:
            return 0, False
        limit = 1
    files = repo.files_to_queue(session, source.id, run.id, limit)
    for file in files:
        _queue_file(session, source, file)
    return len(files), bool(files) and not bootstrapping


def _queue_file(session: Session, source: Source, file: SourceFile) -> None:
    upload = Upload(
        org_id=source.org_id,
        collection_id=source.collection_id,
        user_id=source.user_id,
        kind="source",
        filename=posixpath.basename(file.path) or file.path,
        object_key=file.path,
        connection=source.connection,
        size_bytes=file.size_bytes,
        status="uploaded",
        options=dict(source.options),
        plan={
            "source_file_id": file.id,
            "source_etag": file.etag,
            "replaces": list(file.data_files) if file.processed_etag else [],
        },
    )
    session.add(upload)
    session.flush()
    enqueue(session, PROCESS_UPLOAD, {"upload_id": upload.id}, lock=upload_lock(upload.id))
    file.status = "processing"
    file.upload_id = upload.id
    file.attempts += 1
    file.error = None


def _finish(run: SourceRun, live: dict[str, int]) -> None:
    failed, succeeded = live.get("failed", 0), live.get("succeeded", 0)
    run.status = "succeeded" if failed == 0 else ("partial" if succeeded else "failed")
    run.finished_at = utcnow()


def file_finished(session: Session, upload: Upload, advance: bool = True) -> str | None:
    """Record a source file's outcome from its upload, then move its run forward.

    Returns the run's ID. ``advance=False`` leaves moving the run to the caller: a group
    commit finishing hundreds of files advances each run once, not once per file (each
    advance counts the run's files).
    """
    file_id = upload.plan.get("source_file_id")
    file = session.scalar(select(SourceFile).where(SourceFile.id == file_id).with_for_update())
    if file is None or file.upload_id != upload.id:
        return None  # the source was deleted, or a newer attempt superseded this one
    file.duration_ms = int((utcnow() - upload.created_at).total_seconds() * 1000)
    file.bytes_read = upload.size_bytes
    if upload.completion_status in ("registered", "validated"):
        file.status = "succeeded"
        file.processed_etag = upload.plan.get("source_etag")
        file.data_files = [f["path"] for f in upload.plan.get("staged", [])]
        file.rows_loaded = upload.rows_loaded
    else:
        reason: dict[str, Any] = upload.failure_reason or {}
        file.status = "failed"
        file.error = {
            "code": reason.get("code", "internal_error"),
            "message": reason.get("message", ""),
        }
    if file.run_id and advance:
        advance_run(session, file.run_id)
    return file.run_id
