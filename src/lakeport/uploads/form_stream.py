"""Streaming ``multipart/form-data`` parsing: file bytes go to a sink as they arrive.

Starlette's ``request.form()`` spools a whole file to a temporary file before the handler
sees it, so a size cap would only bite after the full body was stored twice. Here the
``file`` part is handed to a sink chunk by chunk (to the landing zone, hashing as it goes)
and small text fields are collected with a size limit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from python_multipart import MultipartParser
from python_multipart.multipart import parse_options_header

from lakeport.errors import LakeportError

MAX_FIELD_BYTES = 64 * 1024
FILE_FIELD = "file"


@dataclass
class _Part:
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


@dataclass
class ParsedForm:
    """What the form held besides the streamed file."""

    fields: dict[str, str]
    filename: str | None
    content_type: str | None
    saw_file: bool


def boundary_of(content_type: str | None) -> bytes:
    """The multipart boundary, or 415 for anything that is not multipart/form-data."""
    ctype, params = parse_options_header(content_type or "")
    if ctype != b"multipart/form-data" or b"boundary" not in params:
        raise LakeportError(
            "unsupported_media_type",
            "send the file as multipart/form-data with a field named 'file'",
        )
    return params[b"boundary"]


async def parse_form(
    content_type: str | None,
    body: AsyncIterator[bytes],
    sink: Callable[[bytes], Awaitable[None]],
) -> ParsedForm:
    """Parse the form, sending the ``file`` part's bytes to ``sink`` in order."""
    state = _State()
    parser = MultipartParser(boundary_of(content_type), state.callbacks())  # type: ignore[arg-type]
    async for chunk in body:
        parser.write(chunk)
        for data in state.drain():
            await sink(data)
    parser.finalize()
    for data in state.drain():
        await sink(data)
    return ParsedForm(state.fields, state.filename, state.content_type, state.saw_file)


class _State:
    """Callback state for python-multipart's push parser."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.filename: str | None = None
        self.content_type: str | None = None
        self.saw_file = False
        self._part = _Part()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._pending: list[bytes] = []

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda d, s, e: self._header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self._header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def drain(self) -> list[bytes]:
        out, self._pending = self._pending, []
        return out

    def _begin(self) -> None:
        self._part = _Part()

    def _header_end(self) -> None:
        key = self._header_field.decode("latin-1").lower()
        self._part.headers[key] = self._header_value.decode("utf-8", "replace")
        self._header_field.clear()
        self._header_value.clear()

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._part.headers.get("content-disposition", ""))
        self._part.name = params.get(b"name", b"").decode("utf-8", "replace")
        raw = params.get(b"filename")
        self._part.filename = raw.decode("utf-8", "replace") if raw is not None else None
        if self._part.name == FILE_FIELD:
            if self.saw_file:
                raise LakeportError("bad_request", "send exactly one 'file' field")
            self.saw_file = True
            self.filename = self._part.filename
            self.content_type = self._part.headers.get("content-type")

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._part.name == FILE_FIELD:
            self._pending.append(bytes(data[start:end]))
            return
        self._part.data.extend(data[start:end])
        if len(self._part.data) > MAX_FIELD_BYTES:
            raise LakeportError("bad_request", f"form field {self._part.name!r} is too long")

    def _end(self) -> None:
        if self._part.name != FILE_FIELD and self._part.name:
            self.fields[self._part.name] = self._part.data.decode("utf-8", "replace")
