"""Presigned and multipart upload sessions (the bytes go straight to storage)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from lakeport.api.deps import PrincipalDep, RuntimeDep
from lakeport.api.schemas import UploadOut
from lakeport.storage.capabilities import MAX_PART_NUMBER
from lakeport.uploads import sessions

router = APIRouter(prefix="/v1", tags=["uploads"])


def absolute(request: Request, url: str) -> str:
    """Signed URLs of the local store are relative to the API; make them absolute."""
    if url.startswith("/"):
        return str(request.base_url).rstrip("/") + url
    return url


@router.post("/collections/{collection_id}/uploads/presigned", status_code=201)
async def create_presigned(
    collection_id: str,
    body: sessions.SessionIn,
    request: Request,
    principal: PrincipalDep,
    rt: RuntimeDep,
) -> dict[str, Any]:
    """A session and a signed PUT URL; then PUT the bytes and call ``confirm``."""
    upload, signed = await run_in_threadpool(
        sessions.create_presigned, rt, principal, collection_id, body
    )
    return {
        "upload_id": upload.id,
        "url": absolute(request, signed.url),
        "method": signed.method,
        "headers": signed.headers,
        "expires_at": signed.expires_at,
    }


@router.post("/uploads/{upload_id}/confirm", status_code=202)
def confirm(
    upload_id: str, response: Response, principal: PrincipalDep, rt: RuntimeDep
) -> UploadOut:
    upload = sessions.confirm_presigned(rt, principal, upload_id)
    response.headers["Location"] = f"/v1/uploads/{upload.id}"
    return UploadOut.of(upload)


@router.post("/collections/{collection_id}/uploads/multipart", status_code=201)
def create_multipart(
    collection_id: str,
    body: sessions.MultipartIn,
    request: Request,
    principal: PrincipalDep,
    rt: RuntimeDep,
) -> dict[str, Any]:
    """A multipart session with a signed URL for every part."""
    made = sessions.create_multipart(rt, principal, collection_id, body)
    return {
        "upload_id": made.upload.id,
        "part_size": made.part_size,
        "part_count": made.part_count,
        "parts": [{"part_number": n, "url": absolute(request, u)} for n, u in made.parts],
        "expires_at": made.upload.expires_at,
    }


@router.get("/uploads/{upload_id}/parts")
def list_parts(upload_id: str, principal: PrincipalDep, rt: RuntimeDep) -> dict[str, Any]:
    """The parts storage already holds (for resuming)."""
    parts = sessions.list_parts(rt, principal, upload_id)
    return {
        "parts": [
            {"part_number": p.part_number, "etag": p.etag, "size_bytes": p.size_bytes}
            for p in parts
        ]
    }


class SignIn(BaseModel):
    part_numbers: list[int] = Field(min_length=1, max_length=MAX_PART_NUMBER)


@router.post("/uploads/{upload_id}/parts/sign")
def sign_parts(
    upload_id: str, body: SignIn, request: Request, principal: PrincipalDep, rt: RuntimeDep
) -> dict[str, Any]:
    """Fresh URLs for parts (an expired URL is never fatal)."""
    upload = sessions.pending_session(rt, principal, upload_id, "multipart")
    numbers = sorted(set(body.part_numbers))
    urls = sessions.sign_part_urls(rt, upload, numbers)
    return {"parts": [{"part_number": n, "url": absolute(request, u)} for n, u in urls]}


class CompleteIn(BaseModel):
    parts: list[sessions.PartRef] = Field(min_length=1, max_length=MAX_PART_NUMBER)


@router.post("/uploads/{upload_id}/complete", status_code=202)
def complete(
    upload_id: str, body: CompleteIn, response: Response, principal: PrincipalDep, rt: RuntimeDep
) -> UploadOut:
    """Queue the combine; the answer comes at once with ``completion_status: combining``."""
    upload = sessions.complete_multipart(rt, principal, upload_id, body.parts)
    response.headers["Location"] = f"/v1/uploads/{upload.id}"
    return UploadOut.of(upload)


@router.delete("/uploads/{upload_id}", status_code=204)
def abort(upload_id: str, principal: PrincipalDep, rt: RuntimeDep) -> Response:
    """Abort an unfinished session (idempotent); 409 once the pipeline has started."""
    sessions.abort(rt, principal, upload_id)
    return Response(status_code=204)
