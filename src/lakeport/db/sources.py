"""Repository for prefix sources, their runs and their per-file state.

The listing is recorded with one ``INSERT … ON CONFLICT … RETURNING`` per batch, which
classifies every key as it goes (new, changed, unchanged) without reading state back,
so a prefix of 100,000 objects costs 100 statements and one batch of memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from lakeport.db.models import Source, SourceFile, SourceRun, new_id

_UPSERT = text("""
INSERT INTO source_files (id, source_id, path, size_bytes, etag, modified_at, status,
                          seen_run_id, run_id, attempts, data_files, updated_at)
SELECT * FROM unnest(CAST(:ids AS varchar[]), CAST(:source_ids AS varchar[]),
                     CAST(:paths AS text[]), CAST(:sizes AS bigint[]), CAST(:etags AS text[]),
                     CAST(:modified AS timestamptz[]))
       AS t(id, source_id, path, size_bytes, etag, modified_at)
     CROSS JOIN (SELECT 'discovered'::varchar AS status, CAST(:run AS varchar) AS seen_run_id,
                        CAST(:run AS varchar) AS run_id, 0 AS attempts,
                        '[]'::jsonb AS data_files, now() AS updated_at) AS c
ON CONFLICT (source_id, path) DO UPDATE SET
    size_bytes = EXCLUDED.size_bytes,
    etag = EXCLUDED.etag,
    modified_at = EXCLUDED.modified_at,
    seen_run_id = EXCLUDED.seen_run_id,
    status = CASE
        WHEN source_files.status = 'processing' THEN 'processing'
        WHEN source_files.etag = EXCLUDED.etag AND source_files.status <> 'deleted'
            THEN source_files.status
        WHEN source_files.processed_etag IS NOT NULL AND :on_change = 'ignore' THEN 'skipped'
        ELSE 'discovered' END,
    run_id = CASE
        WHEN source_files.status = 'processing' THEN source_files.run_id
        WHEN source_files.etag = EXCLUDED.etag AND source_files.status <> 'deleted'
            THEN source_files.run_id
        ELSE EXCLUDED.run_id END,
    updated_at = now()
RETURNING (xmax = 0) AS inserted, status, run_id = CAST(:run AS varchar) AS touched,
          processed_etag IS NOT NULL AS was_loaded
""")


def record_listing(
    session: Session,
    source: Source,
    run_id: str,
    objects: Sequence[tuple[str, int, str, datetime | None]],
) -> Counter[str]:
    """Upsert one page of (path, size, etag, modified_at); count new/changed/unchanged."""
    counts: Counter[str] = Counter()
    if not objects:
        return counts
    rows = session.execute(
        _UPSERT,
        {
            "ids": [new_id() for _ in objects],
            "source_ids": [source.id] * len(objects),
            "paths": [o[0] for o in objects],
            "sizes": [o[1] for o in objects],
            "etags": [o[2] for o in objects],
            "modified": [o[3] for o in objects],
            "run": run_id,
            "on_change": source.on_change,
        },
    ).all()
    counts["discovered"] = len(rows)
    for inserted, status, touched, was_loaded in rows:
        if inserted:
            counts["new"] += 1
        elif touched and status in ("discovered", "skipped") and was_loaded:
            counts["changed"] += 1
            counts["skipped"] += status == "skipped"
        elif touched and status == "discovered":
            counts["new"] += 1  # seen before, never loaded (e.g. deleted and back)
        else:
            counts["unchanged"] += 1
    return counts


def mark_deleted(session: Session, source_id: str, run_id: str) -> list[SourceFile]:
    """Files the finished listing did not see: gone from the prefix."""
    rows = session.scalars(
        update(SourceFile)
        .where(
            SourceFile.source_id == source_id,
            SourceFile.status != "deleted",
            SourceFile.status != "processing",
            SourceFile.seen_run_id.is_distinct_from(run_id),
        )
        .values(status="deleted", run_id=run_id)
        .returning(SourceFile),
        execution_options={"synchronize_session": False},
    ).all()
    return list(rows)


def files_to_queue(session: Session, source_id: str, run_id: str, limit: int) -> list[SourceFile]:
    """Discovered files of this run, locked so two queuers never take the same file."""
    return list(
        session.scalars(
            select(SourceFile)
            .where(
                SourceFile.source_id == source_id,
                SourceFile.run_id == run_id,
                SourceFile.status == "discovered",
            )
            .order_by(SourceFile.path)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def count_by_status(session: Session, source_id: str, run_id: str) -> dict[str, int]:
    rows = session.execute(
        select(SourceFile.status, func.count())
        .where(SourceFile.source_id == source_id, SourceFile.run_id == run_id)
        .group_by(SourceFile.status)
    ).all()
    return {status: int(n) for status, n in rows}


def run_totals(session: Session, source_id: str, run_id: str) -> tuple[int, int]:
    """(rows loaded, bytes read) by this run's files."""
    row = session.execute(
        select(
            func.coalesce(func.sum(SourceFile.rows_loaded), 0),
            func.coalesce(func.sum(SourceFile.bytes_read), 0),
        ).where(
            SourceFile.source_id == source_id,
            SourceFile.run_id == run_id,
            SourceFile.status == "succeeded",
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


def processing_count(session: Session, source_id: str) -> int:
    n = session.scalar(
        select(func.count()).where(
            SourceFile.source_id == source_id, SourceFile.status == "processing"
        )
    )
    return int(n or 0)


def list_files(
    session: Session, source_id: str, status: str | None, after: str | None, limit: int
) -> list[SourceFile]:
    """A page of files ordered by path (keyset: ``after`` is the last path seen)."""
    query = select(SourceFile).where(SourceFile.source_id == source_id)
    if status:
        query = query.where(SourceFile.status == status)
    if after:
        query = query.where(SourceFile.path > after)
    return list(session.scalars(query.order_by(SourceFile.path).limit(limit)))


def requeue_failed(
    session: Session, source_id: str, run_id: str, paths: Sequence[str] | None
) -> int:
    """Failed files back to ``discovered`` under ``run_id`` (all, or just ``paths``)."""
    query = (
        update(SourceFile)
        .where(SourceFile.source_id == source_id, SourceFile.status == "failed")
        .values(status="discovered", run_id=run_id, attempts=0, error=None)
    )
    if paths:
        query = query.where(SourceFile.path.in_(list(paths)))
    result = session.execute(query, execution_options={"synchronize_session": False})
    return int(result.rowcount)  # type: ignore[attr-defined]


def get_source(session: Session, org_id: str, source_id: str) -> Source | None:
    return session.scalar(select(Source).where(Source.id == source_id, Source.org_id == org_id))


def list_sources(session: Session, org_id: str, collection_id: str) -> list[Source]:
    return list(
        session.scalars(
            select(Source)
            .where(Source.org_id == org_id, Source.collection_id == collection_id)
            .order_by(Source.created_at)
        )
    )


def list_runs(session: Session, source_id: str, limit: int) -> list[SourceRun]:
    return list(
        session.scalars(
            select(SourceRun)
            .where(SourceRun.source_id == source_id)
            .order_by(SourceRun.started_at.desc())
            .limit(limit)
        )
    )


def due_sources(session: Session, now: datetime, limit: int) -> list[Source]:
    """Enabled scheduled sources whose next run is due, locked for this scheduler."""
    return list(
        session.scalars(
            select(Source)
            .where(
                Source.enabled.is_(True), Source.schedule.is_not(None), Source.next_run_at <= now
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
