"""Enqueueing procrastinate jobs inside lakeport's own transactions.

The API writes an upload row and its job in *one* transaction through procrastinate's
versioned SQL API (``procrastinate_defer_jobs_v1``), so there is never a row without a
job or a job without a row. Workers then claim jobs with procrastinate's own
``FOR UPDATE SKIP LOCKED`` fetch.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

_DEFER = text(
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, :priority, :lock, :qlock,"
    " CAST(:args AS jsonb), CAST(:scheduled_at AS timestamptz))"
    "::procrastinate_job_to_defer_v1])) AS id"
)


def enqueue(
    session: Session,
    task_name: str,
    args: dict[str, Any],
    *,
    lock: str | None = None,
    queueing_lock: str | None = None,
    queue: str = "default",
    delay_seconds: float = 0,
    priority: int = 0,
) -> int:
    """Add a job in the caller's transaction and return its ID.

    ``delay_seconds`` schedules it that far in the future (by the database's clock).
    Among jobs sharing a ``lock``, procrastinate runs a higher ``priority`` first and
    otherwise the older job first, even one scheduled for later.
    """
    scheduled_at = (
        session.execute(
            text("SELECT now() + make_interval(secs => :s)"), {"s": delay_seconds}
        ).scalar_one()
        if delay_seconds > 0
        else None
    )
    job_id = session.execute(
        _DEFER,
        {
            "queue": queue,
            "task": task_name,
            "lock": lock,
            "qlock": queueing_lock,
            "args": json.dumps(args),
            "scheduled_at": scheduled_at,
            "priority": priority,
        },
    ).scalar_one()
    return int(job_id)


def refresh_queue_statistics(session: Session) -> None:
    """``ANALYZE`` the job table after queueing many jobs at once (a source run's files).

    Autovacuum analyzes it a minute or more later; until then the planner believes
    the queue holds the handful of jobs it last counted and plans procrastinate's
    fetch as "read every queued job, then sort", which with thousands of source files
    queued costs a hundred milliseconds and more per fetch. A few milliseconds here,
    once per batch of queued files, keep it at one. Inside the queueing transaction,
    ANALYZE counts that transaction's own new rows.
    """
    session.execute(text("ANALYZE procrastinate_jobs"))
