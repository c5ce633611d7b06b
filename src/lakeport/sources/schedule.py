"""Schedules: a cron expression or an interval in seconds, and the next time they fire."""

from __future__ import annotations

from datetime import datetime, timedelta

from croniter import croniter

from lakeport.errors import LakeportError

MIN_INTERVAL = 10


def validate(schedule: str | None) -> str | None:
    """The schedule as given, or ``validation_error`` saying what is wrong."""
    if schedule is None or schedule.strip() == "":
        return None
    value = schedule.strip()
    if value.isdigit():
        if int(value) < MIN_INTERVAL:
            raise LakeportError(
                "validation_error", f"an interval schedule must be at least {MIN_INTERVAL} seconds"
            )
        return value
    if not croniter.is_valid(value):
        raise LakeportError(
            "validation_error", f"{value!r} is neither a cron expression nor an interval in seconds"
        )
    return value


def next_time(schedule: str | None, after: datetime) -> datetime | None:
    """When a schedule fires next after ``after`` (None for unscheduled sources)."""
    if schedule is None:
        return None
    if schedule.isdigit():
        return after + timedelta(seconds=int(schedule))
    nxt: datetime = croniter(schedule, after).get_next(datetime)
    return nxt
