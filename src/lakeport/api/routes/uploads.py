"""Uploads: direct form posts, and the upload object a client polls."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from lakeport.access import upload_for
from lakeport.api.deps import PrincipalDep, RuntimeDep, SessionDep, collection_for
from lakeport.api.schemas import RejectOut, RejectsOut, UploadOut
from lakeport.db import uploads as repo
from lakeport.errors import LakeportError
from lakeport.pipeline.rejects import read_rejects, rejects_key
from lakeport.uploads.direct import receive_direct_upload
from lakeport.uploads.review import decide_review

router = APIRouter(prefix="/v1", tags=["uploads"])


@router.post("/collections/{collection_id}/uploads", status_code=202)
async def create_direct_upload(
    collection_id: str,
    request: Request,
    response: Response,
    principal: PrincipalDep,
    rt: RuntimeDep,
) -> UploadOut:
    """Stream a ``multipart/form-data`` file into the landing zone and queue it."""

    def check_access() -> None:
        with rt.sessions() as session:
            collection_for(session, principal, collection_id, "write")

    await run_in_threadpool(check_access)
    declared = request.headers.get("content-length")
    cap = rt.settings.uploads.max_direct_bytes
    if declared and declared.isdigit() and int(declared) > cap + 1024 * 1024:
        raise LakeportError(
            "payload_too_large",
            f"the request is larger than the {cap}-byte direct-upload limit",
            {"limit_bytes": cap},
        )
    upload = await receive_direct_upload(
        rt, principal, collection_id, request.headers.get("content-type"), request.stream()
    )
    response.headers["Location"] = f"/v1/uploads/{upload.id}"
    return UploadOut.of(upload)


@router.get("/uploads/{upload_id}")
def get_upload(upload_id: str, principal: PrincipalDep, session: SessionDep) -> UploadOut:
    return UploadOut.of(upload_for(session, principal, upload_id, "read"))


@router.get("/uploads/{upload_id}/rejects")
def get_rejects(
    upload_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    rt: RuntimeDep,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> RejectsOut:
    """The rows ``on_error: skip_row`` left out, in file order; same access as the upload
    itself (another org's ID is a 404). Empty for an upload that rejected nothing."""
    upload = upload_for(session, principal, upload_id, "read")
    total = upload.rows_rejected or 0
    key = rejects_key(upload.org_id, upload.id)
    found = read_rejects(rt.store, key, offset, limit) if total else []
    items = [RejectOut.model_validate(r) for r in found]
    return RejectsOut(items=items, total=total, limit=limit, offset=offset)


@router.get("/collections/{collection_id}/uploads")
def list_uploads(
    collection_id: str, principal: PrincipalDep, session: SessionDep, limit: int = 100
) -> dict[str, list[UploadOut]]:
    collection_for(session, principal, collection_id, "read")
    items = repo.list_uploads(session, principal.org_id, collection_id, min(max(limit, 1), 1000))
    return {"items": [UploadOut.of(u) for u in items]}


class ReviewIn(BaseModel):
    decision: Literal["approve", "reject"]


@router.post("/uploads/{upload_id}/review")
def review_upload(
    upload_id: str, body: ReviewIn, principal: PrincipalDep, rt: RuntimeDep
) -> UploadOut:
    """Approve (continue as ``evolve``) or reject a schema change parked for review."""
    return UploadOut.of(decide_review(rt, principal, upload_id, body.decision))
