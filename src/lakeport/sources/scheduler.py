"""Starting scheduled runs: every minute, whichever worker takes the periodic job."""

from __future__ import annotations

import logging

from lakeport.db import sources as repo
from lakeport.db.models import utcnow
from lakeport.errors import LakeportError
from lakeport.runtime import Runtime
from lakeport.sources import schedule as schedules
from lakeport.sources.service import start_run_in

logger = logging.getLogger(__name__)


def start_due_runs(rt: Runtime, limit: int = 100) -> int:
    """Start a run for each due source (skipping those still running); returns how many."""
    started = 0
    with rt.sessions.begin() as session:
        now = utcnow()
        for source in repo.due_sources(session, now, limit):
            source.next_run_at = schedules.next_time(source.schedule, now)
            try:
                start_run_in(session, source.id, "schedule")
                started += 1
            except LakeportError as exc:
                logger.info("source %s not started: %s", source.id, exc.message)
    return started
