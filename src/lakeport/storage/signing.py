"""Signed URLs for the local store: what S3 presigning is to S3, for ``/v1/blobs``.

A URL grants one method on one object (or one part of one multipart upload) until an
expiry time, and nothing else. Its query carries the expiry and an HMAC-SHA256 over
``(method, key, upload_id, part_number, expiry, content_type)`` made with the deployment's
signing key (``settings.signing_key()``), so any API replica can verify it without
shared state and without a database lookup::

    {base_url}/v1/blobs/{key}?upload_id=…&part_number=…&expires=…&sig=…

The fields are joined with newlines, which no key, upload id or content type may
contain, so two different grants can never sign the same message. Verification
compares in constant time and answers every failure with ``forbidden``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from lakeport.errors import LakeportError
from lakeport.storage.base import validate_key

#: Where the API serves signed blob requests; the key follows it in the path.
BLOBS_PATH = "/v1/blobs/"
_VERSION = "lakeport-blob-v1"
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_CONTENT_TYPE = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")


@dataclass(frozen=True)
class LocalGrant:
    """What a verified URL allows: one method on one object or part, until ``expires_at``."""

    method: str
    key: str
    upload_id: str | None
    part_number: int | None
    #: When set, the request must carry exactly this ``Content-Type``.
    content_type: str | None
    expires_at: datetime


def check_upload_id(upload_id: str) -> str:
    """Upload ids reach file paths, so only ``[A-Za-z0-9_-]`` is allowed."""
    if not _UPLOAD_ID.match(upload_id):
        raise LakeportError("bad_request", "malformed multipart upload id")
    return upload_id


def _signature(
    signing_key: bytes,
    method: str,
    key: str,
    upload_id: str | None,
    part_number: int | None,
    content_type: str | None,
    expires: int,
) -> str:
    fields = [
        _VERSION,
        method.upper(),
        key,
        upload_id or "",
        "" if part_number is None else str(part_number),
        str(expires),
        content_type or "",
    ]
    message = "\n".join(fields).encode()
    return hmac.new(signing_key, message, hashlib.sha256).hexdigest()


def sign_local_url(
    signing_key: bytes,
    base_url: str,
    method: str,
    key: str,
    expires_in: int,
    *,
    upload_id: str | None = None,
    part_number: int | None = None,
    content_type: str | None = None,
    now: float | None = None,
) -> tuple[str, datetime]:
    """A URL granting ``method`` on ``key`` (or one part) for ``expires_in`` seconds.

    Returns the URL and its expiry. ``base_url`` is the API's public origin (may be empty
    for a URL relative to the API).
    """
    if not signing_key:
        raise LakeportError("internal_error", "local storage has no URL-signing key")
    if (upload_id is None) != (part_number is None):
        raise ValueError("upload_id and part_number go together")
    if upload_id is not None:
        check_upload_id(upload_id)
    if content_type is not None and not _CONTENT_TYPE.match(content_type):
        raise LakeportError("bad_request", "malformed content type")
    validate_key(key)
    expires = int(now if now is not None else time.time()) + expires_in
    sig = _signature(signing_key, method, key, upload_id, part_number, content_type, expires)
    query: dict[str, str] = {}
    if upload_id is not None:
        query |= {"upload_id": upload_id, "part_number": str(part_number)}
    if content_type is not None:
        query["content_type"] = content_type
    query |= {"expires": str(expires), "sig": sig}
    path = base_url.rstrip("/") + BLOBS_PATH + quote(key, safe="/")
    return f"{path}?{urlencode(query)}", datetime.fromtimestamp(expires, UTC)


def verify_local_url(
    signing_key: bytes,
    method: str,
    url: str,
    *,
    content_type: str | None = None,
    now: float | None = None,
) -> LocalGrant:
    """The grant a request's URL carries; ``forbidden`` when tampered, expired or foreign.

    ``url`` is the full request URL (or its path and query); ``content_type`` is the
    request's ``Content-Type`` header, checked when the URL was signed for one.
    """
    parts = urlsplit(url)
    if BLOBS_PATH not in parts.path:
        raise _forbidden("it is not a blob URL")
    key = unquote(parts.path.split(BLOBS_PATH, 1)[1])
    query = _single_values(parts.query)
    upload_id, signed_type = query.get("upload_id"), query.get("content_type")
    try:
        expires = int(query["expires"])
        part = query.get("part_number")
        part_number = int(part) if part is not None else None
        sig = query["sig"]
    except (KeyError, ValueError):
        raise _forbidden("its signature fields are missing or malformed") from None
    expected = _signature(
        signing_key or b"", method, key, upload_id, part_number, signed_type, expires
    )
    if not signing_key or not hmac.compare_digest(expected.encode(), sig.encode()):
        raise _forbidden("its signature does not match this request")
    expires_at = datetime.fromtimestamp(expires, UTC)  # ours, so in range
    if (now if now is not None else time.time()) >= expires:
        raise LakeportError(
            "forbidden",
            "the signed URL has expired; ask for a new one",
            {"expired_at": expires_at.isoformat()},
        )
    if signed_type is not None and signed_type != (content_type or "").strip():
        raise _forbidden(f"the request must be sent with Content-Type: {signed_type}")
    validate_key(key)
    return LocalGrant(method.upper(), key, upload_id, part_number, signed_type, expires_at)


def _single_values(query: str) -> dict[str, str]:
    """Query parameters, refusing repeats (a second ``sig`` or ``expires`` is a trick)."""
    values = parse_qs(query, keep_blank_values=True)
    if any(len(v) > 1 for v in values.values()):
        raise _forbidden("a query parameter is repeated")
    return {name: v[0] for name, v in values.items()}


def _forbidden(why: str) -> LakeportError:
    return LakeportError("forbidden", f"the signed URL is not valid: {why}")
