"""``application/problem+json`` for every error, with lakeport's stable ``code``.

Validation failures, unknown routes and unexpected exceptions all answer in the same
shape, so a client handles one format and never sees a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from lakeport.errors import ERROR_TABLE, LakeportError

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
_STATUS_CODES = {
    404: "not_found",
    405: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def problem(
    code: str, detail: str, *, status: int | None = None, extra: dict[str, Any] | None = None
) -> JSONResponse:
    """A problem response for ``code``."""
    http_status, title = ERROR_TABLE[code]
    body: dict[str, Any] = {
        "type": f"https://lakeport.dev/problems/{code}",
        "title": title,
        "status": status or http_status,
        "detail": detail,
        "code": code,
        **(extra or {}),
    }
    headers = {"WWW-Authenticate": "Bearer"} if code == "unauthorized" else None
    return JSONResponse(
        body, status_code=status or http_status, media_type=PROBLEM_JSON, headers=headers
    )


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into problem+json."""

    @app.exception_handler(LakeportError)
    async def _lakeport(_: Request, exc: LakeportError) -> JSONResponse:
        return problem(exc.code, exc.message, extra=exc.details)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        return problem("validation_error", "the request is not valid", extra={"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "bad_request")
        return problem(code, str(exc.detail), status=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", exc_info=exc)
        return problem("internal_error", "an unexpected error occurred; it has been logged")
