"""Typed client errors, each carrying the server's stable ``code``.

Callers branch on ``code`` (or catch a subclass), never on message text: the codes are
the same table the API answers with (``lakeport.errors.ERROR_TABLE``), plus a few that
only a client can produce (``connection_error``, ``part_upload_failed``,
``file_changed``, ``etag_mismatch``, ``timeout``).
"""

from __future__ import annotations

from typing import Any

import httpx


class ClientError(Exception):
    """An error answer from lakeport (problem+json) or a failure on the client's side."""

    def __init__(
        self, code: str, message: str, status: int | None = None, body: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.body = body or {}


class TransportError(ClientError):
    """lakeport or storage could not be reached (after the retries that apply)."""


class AuthError(ClientError):
    """The token is missing or invalid (``unauthorized``) or lacks a right (``forbidden``)."""


class NotFoundError(ClientError):
    """The collection, upload or dataset does not exist (or belongs to someone else)."""


class InvalidStateError(ClientError):
    """Not allowed now, e.g. aborting an upload whose pipeline has started."""


class QuotaExceededError(ClientError):
    """The file does not fit the user's or org's quota; ``body`` has used/limit bytes."""


class PayloadTooLargeError(ClientError):
    """The file is larger than the upload route's limit (``body["limit_bytes"]``)."""


class RequestInvalidError(ClientError):
    """The server rejected the request's fields (``validation_error``, ``bad_request``)."""


class PartUploadError(ClientError):
    """A part (or a presigned object) could not be stored after every retry.

    The session is left open, so ``upload(..., resume=True)`` continues from the parts
    storage already holds.
    """


class FileChangedError(ClientError):
    """The file's size or mtime differ from the interrupted upload's: resuming would mix
    two versions of the file, so it is refused (``file_changed``)."""


class UploadFailedError(ClientError):
    """The pipeline ended ``failed``; ``code`` is the failure's code and ``step`` where."""

    def __init__(self, upload: dict[str, Any]) -> None:
        reason = upload.get("failure_reason") or {}
        super().__init__(
            str(reason.get("code") or "upload_failed"),
            str(reason.get("message") or "the upload failed"),
            body=upload,
        )
        self.upload = upload
        self.step: str | None = reason.get("step")


_BY_CODE: dict[str, type[ClientError]] = {
    "unauthorized": AuthError,
    "forbidden": AuthError,
    "not_found": NotFoundError,
    "invalid_state": InvalidStateError,
    "conflict": InvalidStateError,
    "quota_exceeded": QuotaExceededError,
    "payload_too_large": PayloadTooLargeError,
    "validation_error": RequestInvalidError,
    "bad_request": RequestInvalidError,
}


def error_for(code: str, message: str, status: int | None, body: dict[str, Any]) -> ClientError:
    """The most specific error class for ``code`` (plain :class:`ClientError` otherwise)."""
    return _BY_CODE.get(code, ClientError)(code, message, status, body)


def from_response(response: httpx.Response) -> ClientError:
    """The error a problem+json (or any non-JSON) error response stands for."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"code": "http_error", "detail": response.text[:500]}
    code = str(body.get("code") or "http_error")
    message = str(body.get("detail") or body.get("title") or f"HTTP {response.status_code}")
    return error_for(code, message, response.status_code, body)
