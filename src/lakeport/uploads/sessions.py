"""Presigned single-PUT and multipart upload sessions.

The bytes go from the client straight to storage (S3, or the local store's signed
``/v1/blobs`` URLs); lakeport keeps the session row, reserves the declared size against
the quota up front, and takes the true size from storage, never from the client. A
session that is never completed expires (see :mod:`lakeport.uploads.retention`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from lakeport.access import collection_for, upload_for
from lakeport.db import quota
from lakeport.db import uploads as repo
from lakeport.db.models import Upload, new_id, utcnow
from lakeport.db.queue import enqueue
from lakeport.db.tenancy import Principal
from lakeport.errors import LakeportError
from lakeport.jobs.names import PROCESS_UPLOAD, upload_lock
from lakeport.runtime import Runtime
from lakeport.storage.capabilities import (
    MAX_PART_NUMBER,
    MIN_PART_SIZE,
    PartInfo,
    PresignedRequest,
    SupportsMultipart,
    SupportsPresign,
)
from lakeport.storage.digest import stored_sha256
from lakeport.uploads.direct import landing_key
from lakeport.uploads.options import UploadOptions

DEFAULT_PART_SIZE = 8 * 1024 * 1024
PENDING = "pending"


class SessionIn(UploadOptions):
    """A presigned or multipart session request: the file's declaration plus options."""

    filename: str = Field(min_length=1, max_length=1000)
    size_bytes: int = Field(ge=0)
    content_type: str | None = Field(default=None, max_length=255)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")


class MultipartIn(SessionIn):
    part_size: int | None = Field(default=None, ge=MIN_PART_SIZE)


class PartRef(BaseModel):
    part_number: int = Field(ge=1, le=MAX_PART_NUMBER)
    etag: str = Field(min_length=1, max_length=128)


@dataclass(frozen=True)
class MultipartSession:
    upload: Upload
    part_size: int
    part_count: int
    parts: list[tuple[int, str]]


def _options(body: SessionIn) -> dict[str, Any]:
    fields = set(UploadOptions.model_fields)
    return {k: v for k, v in body.model_dump(exclude_none=True).items() if k in fields}


def _new_session(
    session: Session,
    principal: Principal,
    collection_id: str,
    body: SessionIn,
    kind: str,
    lifetime: int,
) -> Upload:
    """The session row, with the declared size reserved against both quotas."""
    collection_for(session, principal, collection_id, "write")
    quota.reserve(session, principal.org_id, principal.user_id, body.size_bytes)
    upload_id = new_id()
    upload = Upload(
        id=upload_id,
        org_id=principal.org_id,
        collection_id=collection_id,
        user_id=principal.user_id,
        kind=kind,
        filename=body.filename,
        content_type=body.content_type,
        object_key=landing_key(principal.org_id, upload_id),
        size_bytes=body.size_bytes,
        sha256=body.sha256.lower() if body.sha256 else None,
        status=PENDING,
        options=_options(body),
        reserved_bytes=body.size_bytes,
        expires_at=utcnow() + timedelta(seconds=lifetime),
    )
    session.add(upload)
    session.flush()
    return upload


def _presigner(rt: Runtime) -> SupportsPresign:
    if not isinstance(rt.store, SupportsPresign):
        raise LakeportError("bad_request", "this storage backend does not offer presigned uploads")
    return rt.store


def _multipart(rt: Runtime) -> SupportsMultipart:
    if not isinstance(rt.store, SupportsMultipart):
        raise LakeportError("bad_request", "this storage backend does not offer multipart uploads")
    return rt.store


def create_presigned(
    rt: Runtime, principal: Principal, collection_id: str, body: SessionIn
) -> tuple[Upload, PresignedRequest]:
    """A session and one signed PUT URL for a file up to ``max_presigned_bytes``."""
    limits = rt.settings.uploads
    if body.size_bytes > limits.max_presigned_bytes:
        raise LakeportError(
            "payload_too_large",
            f"presigned uploads are limited to {limits.max_presigned_bytes} bytes; use multipart",
            {"limit_bytes": limits.max_presigned_bytes},
        )
    store = _presigner(rt)
    with rt.sessions.begin() as session:
        upload = _new_session(
            session, principal, collection_id, body, "presigned", limits.presigned_session_seconds
        )
        signed = store.presign_put(upload.object_key, limits.url_expiry_seconds, body.content_type)
    return upload, signed


def part_plan(size: int, requested: int | None) -> tuple[int, int]:
    """(part size, part count) within S3's rules: >= 5 MiB parts, at most 10,000 of them."""
    floor = max(DEFAULT_PART_SIZE, math.ceil(size / MAX_PART_NUMBER))
    part_size = requested or floor
    count = max(1, math.ceil(size / part_size))
    if count > MAX_PART_NUMBER:
        raise LakeportError(
            "validation_error",
            f"part_size {part_size} would need {count} parts (max 10,000)",
            {"minimum_part_size": math.ceil(size / MAX_PART_NUMBER)},
        )
    return part_size, count


def create_multipart(
    rt: Runtime, principal: Principal, collection_id: str, body: MultipartIn
) -> MultipartSession:
    """A session, a storage multipart upload, and a signed URL per part."""
    limits = rt.settings.uploads
    if body.size_bytes > limits.max_multipart_bytes:
        raise LakeportError(
            "payload_too_large",
            "the file exceeds the multipart size limit",
            {"limit_bytes": limits.max_multipart_bytes},
        )
    part_size, count = part_plan(body.size_bytes, body.part_size)
    store = _multipart(rt)
    with rt.sessions.begin() as session:
        upload = _new_session(
            session, principal, collection_id, body, "multipart", limits.multipart_session_seconds
        )
        upload.storage_upload_id = store.create_multipart(upload.object_key)
        upload.part_size = part_size
    urls = sign_part_urls(rt, upload, list(range(1, count + 1)))
    return MultipartSession(upload, part_size, count, urls)


def sign_part_urls(rt: Runtime, upload: Upload, numbers: list[int]) -> list[tuple[int, str]]:
    store = _multipart(rt)
    assert upload.storage_upload_id is not None
    expiry = rt.settings.uploads.url_expiry_seconds
    return [
        (n, store.presign_part(upload.object_key, upload.storage_upload_id, n, expiry))
        for n in numbers
    ]


def pending_session(rt: Runtime, principal: Principal, upload_id: str, kind: str) -> Upload:
    """A still-open session of ``kind`` the caller may write to, or 404/409."""
    with rt.sessions() as session:
        upload = upload_for(session, principal, upload_id, "write")
    if upload.kind != kind:
        raise LakeportError("invalid_state", f"upload {upload_id} is a {upload.kind} upload")
    if upload.status != PENDING:
        raise LakeportError("invalid_state", f"the upload is {upload.status}, not pending")
    return upload


def list_parts(rt: Runtime, principal: Principal, upload_id: str) -> list[PartInfo]:
    upload = pending_session(rt, principal, upload_id, "multipart")
    assert upload.storage_upload_id is not None
    return _multipart(rt).list_parts(upload.object_key, upload.storage_upload_id)


def confirm_presigned(rt: Runtime, principal: Principal, upload_id: str) -> Upload:
    """Check the PUT object against the declaration, charge its true size, queue it."""
    upload = pending_session(rt, principal, upload_id, "presigned")
    info = rt.store.stat(upload.object_key)
    if info is None:
        raise LakeportError(
            "upload_not_found", "no object was uploaded for this session; PUT the file first"
        )
    problem = _mismatch(rt, upload, info.size_bytes)
    if problem:
        rt.store.delete(upload.object_key)
        raise LakeportError(
            "upload_mismatch",
            problem,
            {"declared_bytes": upload.size_bytes, "stored_bytes": info.size_bytes},
        )
    with rt.sessions.begin() as session:
        row = repo.lock_upload(session, upload_id)
        assert row is not None
        if row.status != PENDING:
            raise LakeportError("invalid_state", f"the upload is {row.status}, not pending")
        quota.settle(session, row.org_id, row.user_id, row.reserved_bytes, info.size_bytes)
        row.reserved_bytes, row.charged_bytes = 0, info.size_bytes
        row.size_bytes = info.size_bytes
        row.status = "uploaded"
        row.expires_at = None
        enqueue(session, PROCESS_UPLOAD, {"upload_id": row.id}, lock=upload_lock(row.id))
        return row


def _mismatch(rt: Runtime, upload: Upload, stored: int) -> str | None:
    if stored != upload.size_bytes:
        return f"the stored object has {stored} bytes, {upload.size_bytes} were declared"
    if upload.sha256 and stored_sha256(rt.store, upload.object_key) != upload.sha256:
        return "the stored object's SHA-256 differs from the declared one"
    return None


def complete_multipart(
    rt: Runtime, principal: Principal, upload_id: str, parts: list[PartRef]
) -> Upload:
    """Record the part list and queue the combine; answers at once (202)."""
    pending_session(rt, principal, upload_id, "multipart")
    with rt.sessions.begin() as session:
        row = repo.lock_upload(session, upload_id)
        assert row is not None
        if row.status != PENDING:
            raise LakeportError("invalid_state", f"the upload is {row.status}, not pending")
        repo.set_plan(row, parts=[[p.part_number, p.etag] for p in parts])
        row.status = "uploaded"
        row.expires_at = None
        repo.log_step(row, "combine", "start", "combining")
        enqueue(session, PROCESS_UPLOAD, {"upload_id": row.id}, lock=upload_lock(row.id))
        return row


def abort(rt: Runtime, principal: Principal, upload_id: str) -> None:
    """Abort a session: storage parts and object deleted, reservation released. Idempotent."""
    with rt.sessions.begin() as session:
        upload = upload_for(session, principal, upload_id, "write", lock=True)
        if upload.status in ("aborted", "expired"):
            return
        if upload.status != PENDING:
            raise LakeportError(
                "invalid_state", "the pipeline has started; this upload can no longer be aborted"
            )
        end_session(rt, session, upload, "aborted")


def end_session(rt: Runtime, session: Session, upload: Upload, status: str) -> None:
    """Discard an unfinished session's storage and reservation (abort and expiry)."""
    if upload.storage_upload_id and isinstance(rt.store, SupportsMultipart):
        rt.store.abort_multipart(upload.object_key, upload.storage_upload_id)
    rt.store.delete(upload.object_key)
    quota.release_reserved(session, upload.org_id, upload.user_id, upload.reserved_bytes)
    upload.reserved_bytes = 0
    upload.status = status
    keep = rt.settings.uploads
    days = keep.keep_registered_days if status == "aborted" else keep.keep_unfinished_days
    upload.expires_at = utcnow() + timedelta(days=days)
