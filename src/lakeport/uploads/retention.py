"""Retention: sessions that never finish expire, and old upload rows go away.

Run periodically by the workers (procrastinate periodic task, every 5 minutes) and on
demand by ``lakeport admin cleanup``. lakeport does not rely on a bucket lifecycle rule
(some S3-compatible stores have none); an ``AbortIncompleteMultipartUpload`` rule is a
sensible second line of defence (see docs/operations.md).

* ``pending`` sessions past ``expires_at`` (presigned 1 h, multipart 24 h by default):
  storage multipart aborted, parts and object deleted, reservation released,
  ``status: "expired"``.
* Rows past ``expires_at`` (7 days for sessions that never finished, 30 after
  ``registered`` or abort, 90 after ``failed``) are deleted with their landing object
  and their list of rejected rows (``on_error: skip_row``).

Rows are claimed with ``FOR UPDATE SKIP LOCKED`` in small batches, so any number of
workers can run this at once without stepping on each other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from lakeport.db.models import Upload, utcnow
from lakeport.pipeline.rejects import rejects_key
from lakeport.runtime import Runtime
from lakeport.uploads.sessions import PENDING, end_session

logger = logging.getLogger(__name__)

BATCH = 200
FINISHED = ("registered", "failed", "aborted", "expired", "validated")


@dataclass(frozen=True)
class RetentionReport:
    expired_sessions: int
    deleted_rows: int


def run_retention(rt: Runtime, max_batches: int = 50) -> RetentionReport:
    """Expire stale sessions and delete rows past their retention; returns the counts."""
    expired = sum(_batched(lambda: _expire_batch(rt), max_batches))
    deleted = sum(_batched(lambda: _delete_batch(rt), max_batches))
    if expired or deleted:
        logger.info("retention: %d sessions expired, %d rows deleted", expired, deleted)
    return RetentionReport(expired, deleted)


def _batched(step: Callable[[], int], max_batches: int) -> list[int]:
    counts: list[int] = []
    for _ in range(max_batches):
        n = step()
        counts.append(n)
        if n < BATCH:
            break
    return counts


def _expire_batch(rt: Runtime) -> int:
    with rt.sessions.begin() as session:
        stale = session.scalars(
            select(Upload)
            .where(Upload.status == PENDING, Upload.expires_at < utcnow())
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        for upload in stale:
            end_session(rt, session, upload, "expired")
        return len(stale)


def _delete_batch(rt: Runtime) -> int:
    with rt.sessions.begin() as session:
        old = session.scalars(
            select(Upload)
            .where(Upload.status.in_(FINISHED), Upload.expires_at < utcnow())
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        for upload in old:
            if upload.connection is None:  # a source's files belong to the source
                rt.store.delete(upload.object_key)
            if upload.rows_rejected:  # kept in the landing zone for source files too
                rt.store.delete(rejects_key(upload.org_id, upload.id))
            session.delete(upload)
        return len(old)
