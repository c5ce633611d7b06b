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
    "SELECT unnest(procrastinate_defer_jobs_v1(ARRAY[ROW(:queue, :task, 0, :lock, :qlock,"
    " CAST(:args AS jsonb), NULL)::procrastinate_job_to_defer_v1])) AS id"
)


def enqueue(
    session: Session,
    task_name: str,
    args: dict[str, Any],
    *,
    lock: str | None = None,
    queueing_lock: str | None = None,
    queue: str = "default",
) -> int:
    """Add a job in the caller's transaction and return its ID."""
    job_id = session.execute(
        _DEFER,
        {
            "queue": queue,
            "task": task_name,
            "lock": lock,
            "qlock": queueing_lock,
            "args": json.dumps(args),
        },
    ).scalar_one()
    return int(job_id)
