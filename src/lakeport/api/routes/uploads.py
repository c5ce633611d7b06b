"""Uploads: direct form posts, and the upload object a client polls."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from lakeport.access import upload_for
from lakeport.api.deps import PrincipalDep, RuntimeDep, SessionDep, collection_for
from lakeport.api.schemas import UploadOut
from lakeport.db import uploads as repo
from lakeport.errors import LakeportError
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
