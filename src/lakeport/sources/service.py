"""Sources, their runs and their files: the operations behind the REST routes and the CLI.

A run is started by a request (202) or by the scheduler; a partial unique index allows
one ``running`` run per source, so a second request while one runs is refused with
``run_in_progress`` (409) rather than joined: the caller learns the ID of the run that
is already going from the error details.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from lakeport.access import collection_for
from lakeport.db import sources as repo
from lakeport.db.models import Source, SourceRun, utcnow
from lakeport.db.queue import enqueue
from lakeport.db.tenancy import Principal
from lakeport.errors import LakeportError, not_found
from lakeport.jobs.names import DISCOVER_SOURCE, source_lock
from lakeport.runtime import Runtime
from lakeport.sources import schedule as schedules
from lakeport.uploads.options import UploadOptions

Trigger = Literal["manual", "schedule", "retry"]


class SourceFields(BaseModel):
    """Everything a source is configured with (all optional for PATCH)."""

    model_config = ConfigDict(extra="forbid")

    prefix: str | None = Field(default=None, max_length=1024)
    pattern: str | None = Field(default=None, min_length=1, max_length=512)
    modified_since: datetime | None = None
    dataset_name: str | None = Field(default=None, min_length=1, max_length=100)
    schema_policy: Literal["strict", "evolve"] | None = None
    on_error: Literal["abort", "skip_row"] | None = None
    format: Literal["csv", "tsv", "json", "parquet", "xlsx"] | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    header: bool | None = None
    encoding: str | None = None
    null_values: list[str] | None = None
    sheet: str | None = None
    schedule: str | None = None
    enabled: bool | None = None
    on_change: Literal["replace", "ignore"] | None = None
    on_delete: Literal["keep", "delete_rows"] | None = None


class SourceIn(SourceFields):
    name: str = Field(min_length=1, max_length=128)
    connection: str = Field(min_length=1, max_length=64)
    prefix: str = Field(default="", max_length=1024)
    dataset_name: str = Field(min_length=1, max_length=100)


_OPTION_KEYS = (
    "dataset_name",
    "schema_policy",
    "format",
    "delimiter",
    "header",
    "encoding",
    "null_values",
    "sheet",
    "on_error",
)


def _apply(source: Source, fields: SourceFields) -> None:
    given = fields.model_dump(exclude_unset=True)
    options = dict(source.options)
    for key in _OPTION_KEYS:
        if key in given:
            options[key] = given.pop(key)
    UploadOptions.model_validate({k: v for k, v in options.items() if v is not None})
    source.options = {k: v for k, v in options.items() if v is not None}
    if "schedule" in given:
        given["schedule"] = schedules.validate(given["schedule"])
    if given.get("prefix"):
        given["prefix"] = given["prefix"].lstrip("/")
    for key, value in given.items():
        setattr(source, key, value)
    source.next_run_at = schedules.next_time(source.schedule, utcnow())


def create_source(rt: Runtime, principal: Principal, collection_id: str, body: SourceIn) -> Source:
    if body.connection not in rt.settings.connections:
        raise LakeportError(
            "validation_error",
            f"no storage connection named "
            f"{body.connection!r}; connections are configured on the server",
            {"connections": sorted(rt.settings.connections)},
        )
    with rt.sessions.begin() as session:
        collection_for(session, principal, collection_id, "write")
        source = Source(
            org_id=principal.org_id,
            collection_id=collection_id,
            user_id=principal.user_id,
            name=body.name,
            connection=body.connection,
            prefix="",
            pattern="**",
            options={},
        )
        _apply(source, body)
        session.add(source)
        try:
            session.flush()
        except IntegrityError as exc:
            raise LakeportError("already_exists", f"a source named {body.name!r} exists") from exc
        return source


def source_for(session: Session, principal: Principal, source_id: str, action: str) -> Source:
    source = repo.get_source(session, principal.org_id, source_id)
    if source is None:
        raise not_found("source")
    collection_for(
        session, principal, source.collection_id, "write" if action == "write" else "read"
    )
    return source


def update_source(rt: Runtime, principal: Principal, source_id: str, body: SourceFields) -> Source:
    with rt.sessions.begin() as session:
        source = source_for(session, principal, source_id, "write")
        _apply(source, body)
        return source


def delete_source(rt: Runtime, principal: Principal, source_id: str) -> None:
    """Forget the source and its file state; the dataset and its rows stay."""
    with rt.sessions.begin() as session:
        session.delete(source_for(session, principal, source_id, "write"))


def start_run(rt: Runtime, source_id: str, trigger: Trigger) -> SourceRun:
    """Open a run and queue its discovery; ``run_in_progress`` if one is running."""
    with rt.sessions.begin() as session:
        return start_run_in(session, source_id, trigger)


def start_run_in(session: Session, source_id: str, trigger: Trigger) -> SourceRun:
    run = SourceRun(source_id=source_id, trigger=trigger, counts={})
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError as exc:
        running = [r for r in repo.list_runs(session, source_id, 5) if r.status == "running"]
        raise LakeportError(
            "run_in_progress",
            "this source already has a run in progress",
            {"run_id": running[0].id if running else None},
        ) from exc
    enqueue(session, DISCOVER_SOURCE, {"run_id": run.id}, lock=source_lock(source_id))
    return run


def run_view(session: Session, run: SourceRun) -> dict[str, Any]:
    """The run as the API shows it, with live per-file counts."""
    live = repo.count_by_status(session, run.source_id, run.id)
    rows, read = repo.run_totals(session, run.source_id, run.id)
    counts = {
        k: int(run.counts.get(k, 0))
        for k in ("discovered", "new", "changed", "unchanged", "deleted")
    }
    counts |= {k: live.get(k, 0) for k in ("succeeded", "failed", "skipped")}
    return {
        "id": run.id,
        "source_id": run.source_id,
        "trigger": run.trigger,
        "status": run.status,
        "phase": run.phase,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "counts": counts,
        "rows_loaded": rows,
        "bytes_read": read,
        "error": run.error,
    }


def retry_files(
    rt: Runtime, principal: Principal, source_id: str, paths: list[str] | None
) -> SourceRun:
    """Re-queue failed files (all, or ``paths``) in a new run."""
    with rt.sessions.begin() as session:
        source = source_for(session, principal, source_id, "write")
        run = SourceRun(source_id=source.id, trigger="retry", counts={}, phase="processing")
        try:
            with session.begin_nested():
                session.add(run)
                session.flush()
        except IntegrityError as exc:
            raise LakeportError("run_in_progress", "wait for the running run to finish") from exc
        n = repo.requeue_failed(session, source.id, run.id, paths)
        run.counts = {"discovered": n}
        enqueue(
            session, DISCOVER_SOURCE, {"run_id": run.id, "retry": True}, lock=source_lock(source.id)
        )
        return run
