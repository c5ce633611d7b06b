"""Streaming the records of a JSON file without holding the file in memory.

Accepted shapes, all streamed one record at a time:

* NDJSON / JSON Lines, and objects simply concatenated (``{..}{..}``, any whitespace);
* a top-level array of objects ``[{..}, {..}]`` (several such arrays in a row, too);
* rows as arrays, CSV-style: ``[["id", "name"], [1, "a"]]`` or one array per line; a
  first row of strings is the header.

A top-level array is opened and streamed element by element when its first element is
an object or an array; otherwise the whole value is one record (a row array). Each
record must fit in :data:`MAX_RECORD_CHARS`; a record that does not decode is a
``parse_error`` with its line and column.

Under ``on_error="skip_row"`` a record outside any array that does not decode is handed
to the reject handler and reading resumes on the next line: resynchronising is line-
oriented, which is exactly right for NDJSON / JSON Lines (the usual damage is a
truncated or hand-edited line). Inside a top-level array a syntax error stays fatal, as
the array's structure is lost from there on.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakeport.formats.base import REJECT_VALUE_CHARS, Reject, RejectHandler, RowError, deliver
from lakeport.formats.detect import iter_chunks
from lakeport.formats.encoding import TextEncoding, encoding_error

CHUNK_BYTES = 1 << 20
MAX_RECORD_CHARS = 64 << 20
_WS = " \t\r\n"
_LINE_BREAK = re.compile(r"\r|\n")
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Item:
    """One record (a dict or a row list), the size of its text (for batching) and the
    1-based line it starts on (for messages and rejects)."""

    value: Any
    chars: int
    line: int


class _Buffer:
    """Decoded text with a read position, refilled chunk by chunk."""

    def __init__(self, path: Path, compression: str | None, enc: TextEncoding) -> None:
        self.chunks = iter_chunks(path, compression, CHUNK_BYTES)
        self.decoder = codecs.getincrementaldecoder(enc.codec)()
        self.codec = enc.codec
        self.skip = enc.bom
        self.text = ""
        self.pos = 0
        self.eof = False
        self.bytes_read = 0
        self.line = 1
        self.line_start = 0

    def fill(self) -> bool:
        """Append the next chunk; False at end of file."""
        if self.eof:
            return False
        chunk = next(self.chunks, None)
        if chunk is None:
            self.eof = True
            self.text = self.text[self.pos :] + self._decode(b"", final=True)
        else:
            self.text = self.text[self.pos :] + self._decode(chunk, final=False)
        self.line_start -= self.pos
        self.pos = 0
        return True

    def _decode(self, data: bytes, final: bool) -> str:
        if self.skip:
            data, self.skip = data[self.skip :], max(0, self.skip - len(data))
        pending = len(self.decoder.getstate()[0])
        try:
            text = str(self.decoder.decode(data, final=final))
        except UnicodeDecodeError as exc:
            raise encoding_error(self.bytes_read - pending + int(exc.start), self.codec) from exc
        self.bytes_read += len(data)
        return text

    def skip_ws(self, extra: str = "") -> str | None:
        """Advance past whitespace (and ``extra`` characters); the next char or None."""
        chars = _WS + extra
        while True:
            text, pos = self.text, self.pos
            while pos < len(text) and text[pos] in chars:
                if text[pos] == "\n":
                    self.line += 1
                    self.line_start = pos + 1
                pos += 1
            self.pos = pos
            if pos < len(text):
                return text[pos]
            if not self.fill():
                return None

    def advance(self, end: int) -> None:
        """Move past a decoded value, keeping the line count."""
        newlines = self.text.count("\n", self.pos, end)
        if newlines:
            self.line += newlines
            self.line_start = self.text.rindex("\n", self.pos, end) + 1
        self.pos = end

    def skip_line(self) -> None:
        """Move past the rest of the current line: where reading resumes after a record
        that does not decode."""
        while True:
            ends = [i for i in (self.text.find(c, self.pos) for c in "\n\r") if i != -1]
            if ends:  # a lone CR ends a line too, or a CR-only file would end here
                self.advance(min(ends) + 1)
                return
            self.pos = len(self.text)
            if not self.fill():
                return

    def line_text(self) -> str:
        """The rest of the current line (capped), as a bad record's value."""
        text = self.text[self.pos : self.pos + REJECT_VALUE_CHARS]
        return _LINE_BREAK.split(text, maxsplit=1)[0]


def iter_items(
    path: Path, compression: str | None, enc: TextEncoding, on_reject: RejectHandler | None = None
) -> Iterator[Item]:
    """Every record of the file, in order (see the module docstring); records that do
    not decode go to ``on_reject`` when one is given, else fail the read."""
    buf = _Buffer(path, compression, enc)
    while True:
        nxt = buf.skip_ws()
        if nxt is None:
            return
        if nxt == "[" and _opens_container(buf):
            yield from _array_elements(buf)
            continue
        item = _top_level_record(buf, on_reject)
        if item is not None:
            yield item


def _top_level_record(buf: _Buffer, on_reject: RejectHandler | None) -> Item | None:
    """The next record outside any array, or None after reporting one that does not
    decode (and skipping the rest of its line)."""
    try:
        return _decode_one(buf)
    except RowError as exc:
        deliver(exc, on_reject)
    buf.skip_line()
    return None


def _opens_container(buf: _Buffer) -> bool:
    """At a ``[``: is the first element an object or array (or is the array empty)?"""
    offset = 1
    while True:
        text = buf.text
        while buf.pos + offset < len(text) and text[buf.pos + offset] in _WS:
            offset += 1
        if buf.pos + offset < len(text):
            return text[buf.pos + offset] in "{[]"
        if not buf.fill():
            return False


def _array_elements(buf: _Buffer) -> Iterator[Item]:
    buf.pos += 1
    first = True
    while True:
        nxt = buf.skip_ws()
        if nxt == "]":
            buf.pos += 1
            return
        if nxt is None:
            raise _error(buf, "the top-level array is never closed").fatal()
        if not first:
            if nxt != ",":
                raise _error(buf, f"expected ',' or ']' between records, found {nxt!r}").fatal()
            buf.pos += 1
            if buf.skip_ws() == "]":
                raise _error(buf, "trailing comma before ']'").fatal()
        first = False
        try:
            item = _decode_one(buf)
        except RowError as exc:
            raise exc.fatal() from exc
        yield item


def _decode_one(buf: _Buffer) -> Item:
    while True:
        try:
            value, end = _DECODER.raw_decode(buf.text, buf.pos)
        except json.JSONDecodeError as exc:
            if _is_final(buf, exc) or not buf.fill():
                raise _decode_error(buf, exc) from exc
            continue
        except RecursionError as exc:
            raise _error(buf, "nesting is too deep") from exc
        if end == len(buf.text) and not buf.eof and _may_continue(value):
            buf.fill()  # a number cut by the chunk end ("12" of "123"): decode again
            continue
        chars = end - buf.pos
        line = buf.line
        buf.advance(end)
        return Item(value, chars, line)


def _is_final(buf: _Buffer, exc: json.JSONDecodeError) -> bool:
    """Whether more text cannot change this failure: a JSON token never spans a line
    break (the decoder is strict), so a failure before one is final. This keeps a bad
    line from pulling up to :data:`MAX_RECORD_CHARS` of the file into memory."""
    too_long = len(buf.text) - buf.pos > MAX_RECORD_CHARS
    return too_long or buf.text.find("\n", exc.pos) != -1


def _may_continue(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _decode_error(buf: _Buffer, exc: json.JSONDecodeError) -> RowError:
    line = buf.line + exc.doc.count("\n", buf.pos, exc.pos)
    last_newline = exc.doc.rfind("\n", 0, exc.pos)
    column = exc.pos - max(last_newline + 1, buf.line_start) + 1
    message = f"invalid JSON at line {line}, column {column}: {exc.msg}"
    return RowError(
        "parse_error",
        message,
        Reject(buf.line, None, buf.line_text(), message),
        {"line": line, "column": column, "value": exc.doc[exc.pos : exc.pos + 40]},
    )


def _error(buf: _Buffer, message: str) -> RowError:
    column = buf.pos - buf.line_start + 1
    text = f"invalid JSON at line {buf.line}, column {column}: {message}"
    return RowError(
        "parse_error",
        text,
        Reject(buf.line, None, buf.line_text(), text),
        {"line": buf.line, "column": column, "value": buf.text[buf.pos : buf.pos + 40]},
    )
