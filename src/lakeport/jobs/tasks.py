"""Task entry points. Thin: each one hands over to a package that holds the logic.

The functions are plain; :func:`install` registers them on a procrastinate app built at
start-up (an app per runtime, so tests can build many), under ``lakeport:`` names.
"""

from __future__ import annotations

import procrastinate
from procrastinate import JobContext, RetryStrategy

from lakeport.errors import TransientError
from lakeport.jobs.names import (
    COMMIT_GROUP,
    DISCOVER_SOURCE,
    PROCESS_UPLOAD,
    REMOVE_SOURCE_ROWS,
)
from lakeport.pipeline.group_commit import commit_waiting
from lakeport.pipeline.runner import give_up, run_upload
from lakeport.runtime import Runtime
from lakeport.sources.discovery import discover
from lakeport.sources.removal import remove_file_rows
from lakeport.sources.scheduler import start_due_runs
from lakeport.uploads.retention import run_retention

#: Transient failures (storage or catalog hiccups) retry with exponential backoff; the
#: upload's own attempt counter (``worker.max_attempts``) decides when to give up.
TRANSIENT_RETRY = RetryStrategy(
    max_attempts=20, exponential_wait=2, retry_exceptions={TransientError}
)


def _runtime(context: JobContext) -> Runtime:
    runtime = context.additional_context["runtime"]
    assert isinstance(runtime, Runtime)
    return runtime


def process_upload(context: JobContext, upload_id: str) -> str | None:
    """Run (or resume) the pipeline of one upload."""
    runtime = _runtime(context)
    try:
        return run_upload(runtime, upload_id)
    except TransientError as exc:
        attempts = (context.job.attempts if context.job else 0) + 1
        if attempts >= runtime.settings.worker.max_attempts:
            give_up(runtime, upload_id, exc)
            return "failed"
        raise


def discover_source(context: JobContext, run_id: str, retry: bool = False) -> None:
    """List a source's prefix for a run and queue what changed."""
    discover(_runtime(context), run_id, retry)


def schedule_sources(context: JobContext, timestamp: int) -> int:
    """Start the runs of scheduled sources that are due (checked every minute)."""
    return start_due_runs(_runtime(context))


def retention(context: JobContext, timestamp: int) -> dict[str, int]:
    """Expire abandoned sessions and delete rows past retention (every 5 minutes)."""
    report = run_retention(_runtime(context))
    return {"expired_sessions": report.expired_sessions, "deleted_rows": report.deleted_rows}


def remove_source_rows(context: JobContext, source_file_id: str) -> int:
    """Remove the rows of a file deleted from its prefix (``on_delete: delete_rows``)."""
    return remove_file_rows(_runtime(context), source_file_id)


def commit_group_job(context: JobContext, dataset_id: str) -> int:
    """Commit every source file waiting on ``dataset_id`` in one snapshot per batch."""
    return commit_waiting(_runtime(context), dataset_id)


def install(app: procrastinate.App) -> None:
    """Register lakeport's tasks and periodic schedules on ``app``."""
    app.task(name=PROCESS_UPLOAD, pass_context=True, retry=TRANSIENT_RETRY)(process_upload)
    app.task(name=DISCOVER_SOURCE, pass_context=True, retry=TRANSIENT_RETRY)(discover_source)
    app.task(name=COMMIT_GROUP, pass_context=True, retry=TRANSIENT_RETRY)(commit_group_job)
    app.task(name=REMOVE_SOURCE_ROWS, pass_context=True, retry=TRANSIENT_RETRY)(remove_source_rows)
    scheduler = app.task(
        name="lakeport:schedule_sources", pass_context=True, queueing_lock="schedule_sources"
    )(schedule_sources)
    app.periodic(cron="* * * * *", periodic_id="schedule_sources")(scheduler)
    cleaner = app.task(name="lakeport:retention", pass_context=True, queueing_lock="retention")(
        retention
    )
    app.periodic(cron="*/5 * * * *", periodic_id="retention")(cleaner)
