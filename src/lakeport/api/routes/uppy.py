"""Companion-compatible S3 routes, so an Uppy page using ``@uppy/aws-s3`` needs no upload code.

Uppy's plugin calls ``${endpoint}/s3/...`` (``companionUrl`` in @uppy/aws-s3-multipart 3.x)
with Companion's request and response shapes; pointed at ``<lakeport>/v1/collections/<id>``,
these routes translate those shapes onto :mod:`lakeport.uploads.sessions`, which holds every
rule (quota, limits, states). docs/uppy.md names the Uppy and Companion sources checked.

The translation, in short:

- ``uploadId`` is lakeport's upload id (the session), never the storage's multipart id;
- ``key`` is that id again: Uppy only echoes it back, and our object key stays private;
- Uppy does not send the file size, which the quota reservation needs up front, so the page
  puts it in the file's meta (``size``) and Uppy forwards it as ``metadata``;
- meta fields named like lakeport's upload options (``dataset_name``, ``format`` ...) become
  those options; Uppy forwards every meta field (``name``, ``type`` ...), so others are
  ignored rather than rejected;
- ``complete`` answers ``location`` = the upload's URL, which Uppy reports as ``uploadURL``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lakeport.access import upload_for
from lakeport.api.deps import PrincipalDep, RuntimeDep
from lakeport.api.routes.sessions import absolute
from lakeport.db.models import Upload
from lakeport.db.tenancy import Principal
from lakeport.errors import LakeportError, not_found
from lakeport.runtime import Runtime
from lakeport.storage.capabilities import MAX_PART_NUMBER
from lakeport.uploads import sessions
from lakeport.uploads.options import UploadOptions

#: Metadata keys read as lakeport session fields; every other meta field is Uppy's own.
SESSION_KEYS = frozenset(UploadOptions.model_fields) | {"sha256"}
_METADATA_PARAM = re.compile(r"^metadata\[(.+)\]$")
_SIZE = re.compile(r"^[0-9]{1,19}$")

SessionT = TypeVar("SessionT", bound=sessions.SessionIn)


class UppyRoute(APIRoute):
    """Adds ``message`` to every lakeport problem answer.

    Uppy's companion-client shows a 4xx answer's ``message`` to the user
    (``handleJSONResponse`` → ``UserFacingApiError``) and ignores problem+json's ``detail``,
    so the message is said twice; ``code`` and the rest of the problem are unchanged.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await handle(request)
            except LakeportError as exc:
                exc.details.setdefault("message", exc.message)
                raise

        return handler


router = APIRouter(
    prefix="/v1/collections/{collection_id}/s3", tags=["uppy"], route_class=UppyRoute
)

KeyQuery = Annotated[
    str | None, Query(description="the `key` returned by `POST s3/multipart` (the upload id)")
]


class CreateIn(BaseModel):
    """Uppy's ``createMultipartUpload`` body: ``{filename, type, metadata}``."""

    model_config = ConfigDict(populate_by_name=True)

    filename: str = Field(min_length=1, max_length=1000)
    content_type: str | None = Field(default=None, alias="type", max_length=255)
    #: The file's Uppy meta, values stringified by Uppy.
    metadata: dict[str, Any] = Field(default_factory=dict)
    #: Not sent by @uppy/aws-s3; accepted from custom ``createMultipartUpload`` functions.
    size: int | None = Field(default=None, ge=0)


class S3Part(BaseModel):
    """One part as S3 and Companion name it (Uppy 3.x may add more fields: ignored)."""

    PartNumber: int = Field(ge=1, le=MAX_PART_NUMBER)
    ETag: str = Field(min_length=1, max_length=128)


class CompleteIn(BaseModel):
    parts: list[S3Part] = Field(min_length=1, max_length=MAX_PART_NUMBER)


def declared_size(size: int | None, metadata: Mapping[str, Any]) -> int:
    """The file size, from ``size`` or ``metadata.size``: 422 saying how to send it if absent.

    lakeport reserves the declared size against the quota before any byte moves, and Uppy's
    plugin sends no size of its own, so the page must add it to the file's meta.
    """
    raw = size if size is not None else metadata.get("size")
    if raw is None or raw == "":
        raise _invalid(
            "metadata.size",
            "the file size is required: add it to the file's Uppy meta, e.g. "
            "uppy.on('file-added', f => uppy.setFileMeta(f.id, {size: f.size}))",
        )
    if isinstance(raw, bool) or not _SIZE.match(str(raw)):
        raise _invalid("metadata.size", "metadata.size must be the file's size in bytes")
    return int(raw)


def session_in(
    model: type[SessionT],
    filename: str,
    content_type: str | None,
    size: int,
    metadata: Mapping[str, Any],
) -> SessionT:
    """lakeport's session request from Uppy's fields; bad options are a 422 naming them."""
    picked = {k: v for k, v in metadata.items() if k in SESSION_KEYS and v is not None and v != ""}
    fields = {"filename": filename, "size_bytes": size, "content_type": content_type or None}
    try:
        return model.model_validate({**picked, **fields})
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        raise LakeportError(
            "validation_error", "invalid upload options in metadata", {"errors": errors}
        ) from exc


def query_metadata(request: Request) -> dict[str, str]:
    """``metadata[name]=value`` query parameters, as Uppy's ``getUploadParameters`` sends them."""
    found: dict[str, str] = {}
    for name, value in request.query_params.items():
        match = _METADATA_PARAM.match(name)
        if match:
            found[match.group(1)] = value
    return found


def owned_upload(
    rt: Runtime, principal: Principal, collection_id: str, upload_id: str, key: str | None
) -> Upload:
    """The caller's upload in the path's collection (404 otherwise, as for any foreign id).

    ``key`` is optional (Uppy always sends it); a different key is a client mix-up, refused.
    """
    with rt.sessions() as session:
        upload = upload_for(session, principal, upload_id, "write")
    if upload.collection_id != collection_id:
        raise not_found("upload")
    if key is not None and key != upload_id:
        raise _invalid("key", "key must be the key returned by POST s3/multipart")
    return upload


def _invalid(field: str, message: str) -> LakeportError:
    return LakeportError(
        "validation_error", message, {"errors": [{"field": field, "message": message}]}
    )


@router.get("/params")
def upload_parameters(
    collection_id: str,
    request: Request,
    principal: PrincipalDep,
    rt: RuntimeDep,
    filename: Annotated[str, Query(min_length=1, max_length=1000)],
    content_type: Annotated[str | None, Query(alias="type", max_length=255)] = None,
    size: Annotated[int | None, Query(ge=0)] = None,
) -> dict[str, Any]:
    """Uppy's ``getUploadParameters``: a presigned single PUT (a lakeport presigned session).

    The session still needs ``POST /v1/uploads/{uploadId}/confirm`` after the PUT; Uppy keeps
    only ``method``/``url``/``fields``/``headers``, so see docs/uppy.md for who confirms.
    """
    metadata = query_metadata(request)
    body = session_in(
        sessions.SessionIn, filename, content_type, declared_size(size, metadata), metadata
    )
    upload, signed = sessions.create_presigned(rt, principal, collection_id, body)
    return {
        "method": signed.method,
        "url": absolute(request, signed.url),
        "fields": {},
        "headers": signed.headers,
        "expires": rt.settings.uploads.url_expiry_seconds,
        "uploadId": upload.id,
    }


@router.post("/multipart", status_code=201)
def create_multipart_upload(
    collection_id: str, body: CreateIn, principal: PrincipalDep, rt: RuntimeDep
) -> dict[str, str]:
    """Uppy's ``createMultipartUpload``: a lakeport multipart session (size reserved)."""
    wanted = session_in(
        sessions.MultipartIn,
        body.filename,
        body.content_type,
        declared_size(body.size, body.metadata),
        body.metadata,
    )
    made = sessions.create_multipart(rt, principal, collection_id, wanted)
    return {"uploadId": made.upload.id, "key": made.upload.id}


@router.get("/multipart/{upload_id}")
def list_parts(
    collection_id: str,
    upload_id: str,
    principal: PrincipalDep,
    rt: RuntimeDep,
    key: KeyQuery = None,
) -> list[dict[str, Any]]:
    """Uppy's ``listParts`` (on resume): the parts storage already holds."""
    owned_upload(rt, principal, collection_id, upload_id, key)
    parts = sessions.list_parts(rt, principal, upload_id)
    return [{"PartNumber": p.part_number, "Size": p.size_bytes, "ETag": p.etag} for p in parts]


@router.get("/multipart/{upload_id}/{part_number}")
def sign_part(
    collection_id: str,
    upload_id: str,
    part_number: Annotated[int, Path(ge=1, le=MAX_PART_NUMBER)],
    request: Request,
    principal: PrincipalDep,
    rt: RuntimeDep,
    key: KeyQuery = None,
) -> dict[str, Any]:
    """Uppy's ``signPart``: one part's URL; ``expires`` is in seconds (Uppy's XHR timeout)."""
    owned_upload(rt, principal, collection_id, upload_id, key)
    upload = sessions.pending_session(rt, principal, upload_id, "multipart")
    [(_, url)] = sessions.sign_part_urls(rt, upload, [part_number])
    return {"url": absolute(request, url), "expires": rt.settings.uploads.url_expiry_seconds}


@router.post("/multipart/{upload_id}/complete", status_code=202)
def complete_multipart_upload(
    collection_id: str,
    upload_id: str,
    body: CompleteIn,
    request: Request,
    response: Response,
    principal: PrincipalDep,
    rt: RuntimeDep,
    key: KeyQuery = None,
) -> dict[str, str]:
    """Uppy's ``completeMultipartUpload``: queue the pipeline; ``location`` is the upload.

    The parts are checked when the worker combines them, so a bad ETag fails the upload
    (visible at ``location``), not this request.
    """
    owned_upload(rt, principal, collection_id, upload_id, key)
    parts = [sessions.PartRef(part_number=p.PartNumber, etag=p.ETag) for p in body.parts]
    upload = sessions.complete_multipart(rt, principal, upload_id, parts)
    location = absolute(request, f"/v1/uploads/{upload.id}")
    response.headers["Location"] = location
    return {"location": location, "key": upload.id}


@router.delete("/multipart/{upload_id}")
def abort_multipart_upload(
    collection_id: str,
    upload_id: str,
    principal: PrincipalDep,
    rt: RuntimeDep,
    key: KeyQuery = None,
) -> dict[str, Any]:
    """Uppy's ``abortMultipartUpload``: idempotent; 409 once the pipeline has started."""
    owned_upload(rt, principal, collection_id, upload_id, key)
    sessions.abort(rt, principal, upload_id)
    return {}
