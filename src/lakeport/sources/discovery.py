"""Discovery: list a source's prefix page by page and record what changed.

Pages go to the database as they arrive (``settings.sources.discovery_batch`` keys per
statement), so the number of objects under a prefix never sits in memory. The glob and
``modified_since`` filter during the listing. A storage failure ends the run ``failed``
with the error; nothing recorded so far is lost (a later run picks up from it).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime

from lakeport.db import sources as repo
from lakeport.db.models import Source, SourceRun, utcnow
from lakeport.db.queue import enqueue
from lakeport.errors import LakeportError
from lakeport.jobs.names import REMOVE_SOURCE_ROWS, source_lock
from lakeport.runtime import Runtime
from lakeport.sources.globs import compile_glob
from lakeport.sources.progress import advance_run

logger = logging.getLogger(__name__)

Listed = tuple[str, int, str, datetime | None]


def discover(rt: Runtime, run_id: str, retry: bool = False) -> None:
    """Run the listing for ``run_id`` (skipped for retry runs), then start processing."""
    with rt.sessions() as session:
        run = session.get(SourceRun, run_id)
        source = session.get(Source, run.source_id) if run else None
    if run is None or source is None or run.status != "running":
        return
    if not retry and run.phase == "discovering":
        try:
            counts = _list_and_record(rt, source, run_id)
        except LakeportError as exc:
            _fail_run(rt, run_id, exc)
            return
        with rt.sessions.begin() as session:
            deleted = repo.mark_deleted(session, source.id, run_id)
            counts["deleted"] = len(deleted)
            if source.on_delete == "delete_rows":
                for file in deleted:
                    if file.data_files:
                        enqueue(
                            session,
                            REMOVE_SOURCE_ROWS,
                            {"source_file_id": file.id},
                            lock=source_lock(source.id),
                        )
            live = session.get(SourceRun, run_id)
            assert live is not None
            live.counts = dict(counts)
            live.phase = "processing"
    with rt.sessions.begin() as session:
        advance_run(session, run_id)


def _list_and_record(rt: Runtime, source: Source, run_id: str) -> Counter[str]:
    store = rt.store_for(source.connection)
    matcher = compile_glob(source.pattern)
    size = rt.settings.sources.discovery_batch
    totals: Counter[str] = Counter()
    batch: list[Listed] = []
    for info in store.list(source.prefix):
        relative = info.key[len(source.prefix) :].lstrip("/")
        if not matcher.match(relative):
            continue
        if source.modified_since and info.modified_at < source.modified_since:
            continue
        batch.append((info.key, info.size_bytes, info.etag, info.modified_at))
        if len(batch) >= size:
            totals += _record(rt, source, run_id, batch)
            batch = []
    totals += _record(rt, source, run_id, batch)
    return totals


def _record(rt: Runtime, source: Source, run_id: str, batch: list[Listed]) -> Counter[str]:
    with rt.sessions.begin() as session:
        return repo.record_listing(session, source, run_id, batch)


def _fail_run(rt: Runtime, run_id: str, error: LakeportError) -> None:
    logger.warning("discovery of run %s failed: %s", run_id, error.message)
    with rt.sessions.begin() as session:
        run = session.get(SourceRun, run_id)
        if run is not None:
            run.status = "failed"
            run.finished_at = utcnow()
            run.error = {"code": error.code, "message": error.message}
