"""Prefix sources, their runs and their per-file state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from lakeport.access import collection_for
from lakeport.api.deps import PrincipalDep, RuntimeDep, SessionDep
from lakeport.db import sources as repo
from lakeport.db.models import Source, SourceFile, SourceRun
from lakeport.errors import not_found
from lakeport.sources import service

router = APIRouter(prefix="/v1", tags=["sources"])


class SourceOut(BaseModel):
    id: str
    collection_id: str
    name: str
    connection: str
    prefix: str
    pattern: str
    modified_since: datetime | None
    options: dict[str, Any]
    schedule: str | None
    enabled: bool
    on_change: str
    on_delete: str
    next_run_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: Source) -> SourceOut:
        return cls.model_validate(s, from_attributes=True)


def _file(f: SourceFile) -> dict[str, Any]:
    return {
        "path": f.path,
        "size_bytes": f.size_bytes,
        "etag": f.etag,
        "modified_at": f.modified_at,
        "status": f.status,
        "run_id": f.run_id,
        "rows_loaded": f.rows_loaded,
        "bytes_read": f.bytes_read,
        "duration_ms": f.duration_ms,
        "attempts": f.attempts,
        "error": f.error,
        "processed_etag": f.processed_etag,
        "upload_id": f.upload_id,
        "updated_at": f.updated_at,
    }


@router.post("/collections/{collection_id}/sources", status_code=201)
def create_source(
    collection_id: str, body: service.SourceIn, principal: PrincipalDep, rt: RuntimeDep
) -> SourceOut:
    return SourceOut.of(service.create_source(rt, principal, collection_id, body))


@router.get("/collections/{collection_id}/sources")
def list_sources(
    collection_id: str, principal: PrincipalDep, session: SessionDep
) -> dict[str, list[SourceOut]]:
    collection_for(session, principal, collection_id, "read")
    return {
        "items": [
            SourceOut.of(s) for s in repo.list_sources(session, principal.org_id, collection_id)
        ]
    }


@router.get("/sources/{source_id}")
def get_source(source_id: str, principal: PrincipalDep, session: SessionDep) -> SourceOut:
    return SourceOut.of(service.source_for(session, principal, source_id, "read"))


@router.patch("/sources/{source_id}")
def patch_source(
    source_id: str, body: service.SourceFields, principal: PrincipalDep, rt: RuntimeDep
) -> SourceOut:
    return SourceOut.of(service.update_source(rt, principal, source_id, body))


@router.delete("/sources/{source_id}", status_code=204)
def delete_source(source_id: str, principal: PrincipalDep, rt: RuntimeDep) -> Response:
    service.delete_source(rt, principal, source_id)
    return Response(status_code=204)


@router.post("/sources/{source_id}/runs", status_code=202)
def start_run(
    source_id: str, response: Response, principal: PrincipalDep, rt: RuntimeDep
) -> dict[str, Any]:
    """Start a run now; 409 ``run_in_progress`` (with its ``run_id``) if one is running."""
    with rt.sessions() as session:
        service.source_for(session, principal, source_id, "write")
    run = service.start_run(rt, source_id, "manual")
    response.headers["Location"] = f"/v1/runs/{run.id}"
    with rt.sessions() as session:
        return {"run": service.run_view(session, run)}


@router.get("/sources/{source_id}/runs")
def list_runs(
    source_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    limit: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    service.source_for(session, principal, source_id, "read")
    return {
        "items": [service.run_view(session, r) for r in repo.list_runs(session, source_id, limit)]
    }


@router.get("/runs/{run_id}")
def get_run(run_id: str, principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    run = session.get(SourceRun, run_id)
    if run is None:
        raise not_found("run")
    source = repo.get_source(session, principal.org_id, run.source_id)
    if source is None:
        raise not_found("run")
    collection_for(session, principal, source.collection_id, "read")
    return service.run_view(session, run)


@router.get("/sources/{source_id}/files")
def list_files(
    source_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = Query(500, ge=1, le=5000),
) -> dict[str, Any]:
    """Per-file state ordered by path; pass ``next_cursor`` back as ``cursor`` for more."""
    service.source_for(session, principal, source_id, "read")
    files = repo.list_files(session, source_id, status, cursor, limit)
    next_cursor = files[-1].path if len(files) == limit else None
    return {"items": [_file(f) for f in files], "next_cursor": next_cursor}


class RetryIn(BaseModel):
    paths: list[str] | None = Field(default=None, max_length=10_000)


@router.post("/sources/{source_id}/files/retry", status_code=202)
def retry_files(
    source_id: str, principal: PrincipalDep, rt: RuntimeDep, body: RetryIn | None = None
) -> dict[str, Any]:
    """Re-queue failed files (all of them when no paths are given) in a new run."""
    run = service.retry_files(rt, principal, source_id, body.paths if body else None)
    with rt.sessions() as session:
        return {"run": service.run_view(session, run)}
