"""Running procrastinate workers, in ``lakeport worker`` or inside ``lakeport serve``.

A worker killed with SIGKILL leaves its job in ``doing``; every running worker
periodically asks procrastinate for jobs whose worker stopped sending heartbeats and
hands them back to the queue, so the job resumes elsewhere (the pipeline picks up at
the step it was in).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import procrastinate
from procrastinate import PsycopgConnector
from procrastinate.exceptions import UniqueViolation
from procrastinate.jobs import Job, Status
from sqlalchemy.orm import configure_mappers

from lakeport.db.engine import libpq_conninfo
from lakeport.formats import preload_readers
from lakeport.jobs.tasks import install
from lakeport.runtime import Runtime

logger = logging.getLogger(__name__)


#: Session setting for procrastinate's connections (see :func:`build_app`).
CUSTOM_PLANS = "-c plan_cache_mode=force_custom_plan"


def build_app(runtime: Runtime) -> procrastinate.App:
    """A procrastinate app on lakeport's database with lakeport's tasks loaded.

    Its connections plan every statement for its own arguments. procrastinate fetches
    jobs through a PL/pgSQL function, and PostgreSQL switches such a statement to a
    generic plan after five calls on one connection; for the fetch that plan reads the
    whole queue, 15-40 ms a call instead of about 1 ms with a few hundred jobs queued,
    and pooled worker connections make thousands of calls (measured with
    ``bench/sources.py``: PostgreSQL spent as much CPU as the workers, nearly all in
    the fetch). The function's own ``SET`` clause would be lost when procrastinate
    replaces it on upgrade, so the setting goes on the connections.
    """
    conninfo = libpq_conninfo(runtime.database_url, options=CUSTOM_PLANS)
    app = procrastinate.App(connector=PsycopgConnector(conninfo=conninfo))
    install(app)
    return app


def preload() -> None:
    """Do now what a worker's first file would otherwise do on the way: import every
    format reader, and Rich, which pyiceberg imports inside each schema compatibility
    check (every commit of files), and configure the ORM's mappers (done at the first
    query): 15, 20 and 5 ms off a fresh worker's first file."""
    preload_readers()
    import rich.console
    import rich.table  # noqa: F401

    import lakeport.db.models  # noqa: F401  (every mapper registered before configuring)

    configure_mappers()


async def run_workers(runtime: Runtime, concurrency: int) -> None:
    """Run jobs until cancelled; on cancellation, in-flight jobs finish or are handed back."""
    preload()
    app = build_app(runtime)
    settings = runtime.settings.worker
    async with app.open_async():
        recovery = asyncio.create_task(_recover_stalled(app, settings.stalled_after_seconds))
        try:
            await app.run_worker_async(
                concurrency=concurrency,
                install_signal_handlers=False,
                additional_context={"runtime": runtime},
                fetch_job_polling_interval=settings.poll_seconds,
                update_heartbeat_interval=max(1.0, settings.stalled_after_seconds / 4),
                stalled_worker_timeout=settings.stalled_after_seconds,
                shutdown_graceful_timeout=settings.shutdown_grace_seconds,
                delete_jobs="successful",
            )
        finally:
            recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recovery


async def _recover_stalled(app: procrastinate.App, stalled_after: int) -> None:
    """Hand back jobs whose worker died (no heartbeat for ``stalled_after`` seconds)."""
    interval = max(1.0, stalled_after / 3)
    while True:
        try:
            stalled = await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after)
            for job in stalled:
                logger.warning("job %s (%s) stalled; handing it back", job.id, job.task_name)
                await _hand_back(app, job)
        except Exception:  # recovery must never take the worker down
            logger.exception("stalled-job recovery failed; will try again")
        await asyncio.sleep(interval)


async def _hand_back(app: procrastinate.App, job: Job) -> None:
    """Put a stalled job back in the queue.

    A job with a queueing lock cannot go back while a twin with the same lock waits
    (procrastinate's unique index on waiting jobs); the twin does the same work (a
    group commit of the same dataset), so the stalled one is closed as failed instead
    of blocking recovery forever.
    """
    try:
        await app.job_manager.retry_job(job)
    except UniqueViolation:
        if job.queueing_lock is None:
            raise
        logger.warning("job %s has a waiting twin (%s); closing it", job.id, job.queueing_lock)
        await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
