"""Domain errors: one table of stable codes, each with its HTTP status.

Every error a user can cause is a :class:`LakeportError` carrying a stable ``code``.
The API turns it into ``application/problem+json``; the worker turns it into an upload's
``failure_reason``; the CLI prints its message. Keeping the table in one place means a
code never drifts between surfaces.
"""

from __future__ import annotations

from typing import Any

#: code -> (HTTP status, title). Codes are part of the public interface: never rename.
ERROR_TABLE: dict[str, tuple[int, str]] = {
    "bad_request": (400, "Bad request"),
    "validation_error": (422, "Request validation failed"),
    "unauthorized": (401, "Missing or invalid token"),
    "forbidden": (403, "Not allowed"),
    "not_found": (404, "Not found"),
    "conflict": (409, "Conflict"),
    "already_exists": (409, "Already exists"),
    "payload_too_large": (413, "Payload too large"),
    "quota_exceeded": (413, "Quota exceeded"),
    "unsupported_media_type": (415, "Unsupported media type"),
    "unsupported_format": (422, "Unsupported file format"),
    "empty_file": (422, "Empty file"),
    "parse_error": (422, "The file could not be parsed"),
    "encoding_error": (422, "The file's bytes do not decode"),
    "unreadable_parquet": (422, "Unreadable Parquet file"),
    "unsupported_type": (422, "A column type cannot be stored"),
    "schema_drift": (409, "Schema differs from the target dataset"),
    "invalid_name": (422, "Invalid name"),
    "upload_not_found": (409, "Upload object not found in storage"),
    "upload_mismatch": (422, "Uploaded object does not match the declaration"),
    "invalid_state": (409, "Not allowed in the current state"),
    "run_in_progress": (409, "A run of this source is already in progress"),
    "worker_lost": (503, "The worker processing this file stopped repeatedly"),
    "invalid_parts": (422, "The multipart upload's parts are incomplete or wrong"),
    "storage_error": (503, "Storage unavailable"),
    "catalog_error": (503, "Catalog unavailable"),
    "internal_error": (500, "Internal error"),
}


class LakeportError(Exception):
    """An error with a stable code, a message that says what to do, and optional details."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        if code not in ERROR_TABLE:
            raise ValueError(f"unknown error code {code!r}; add it to ERROR_TABLE")
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    @property
    def status(self) -> int:
        """HTTP status for this error's code."""
        return ERROR_TABLE[self.code][0]

    @property
    def title(self) -> str:
        """Short human title for this error's code."""
        return ERROR_TABLE[self.code][1]

    #: A terminal error will fail the same way on every retry; a transient one may not.
    terminal: bool = True


class TransientError(LakeportError):
    """A failure that may succeed on retry (network, storage or catalog hiccup)."""

    terminal = False


def not_found(what: str) -> LakeportError:
    """The one 404 used for missing *and* foreign resources, so tenants learn nothing."""
    return LakeportError("not_found", f"{what} not found")
