"""Turning a failed CSV read into an error a user can act on.

pyarrow's streaming reader knows *that* a row is bad but not its line number, so on
failure (only then) the file is scanned again with Python's quote-aware ``csv`` module
to find the first row whose field count differs, or with an incremental decoder to find
the first byte that does not decode. The slow scan costs nothing on the happy path.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from lakeport.errors import LakeportError
from lakeport.formats.csv_dialect import QUOTE
from lakeport.formats.detect import iter_chunks
from lakeport.formats.encoding import encoding_error, find_decode_error

if TYPE_CHECKING:
    from lakeport.formats.csv import CsvPlan

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)")
_WIDTH = re.compile(r"Expected (\d+) columns?, got (\d+)")
ROW_TOO_LARGE = "row_too_large"
_ENCODING_HINTS = ("invalid utf8", "invalid utf-8", "decode", "codec")


def classify(exc: BaseException, plan: CsvPlan) -> LakeportError:
    """The LakeportError for an exception raised while streaming ``plan``'s file."""
    message = str(exc)
    if isinstance(exc, UnicodeDecodeError) or any(h in message.lower() for h in _ENCODING_HINTS):
        offset = find_decode_error(iter_chunks(plan.path, plan.compression), plan.encoding)
        if offset is not None:
            return encoding_error(offset, plan.encoding.codec)
    if _WIDTH.search(message):
        located = locate_bad_row(plan)
        if located is not None:
            return located
    if "straddl" in message or "block" in message.lower():
        return LakeportError(
            "parse_error",
            f"a row is larger than {plan.block_bytes >> 20} MB, or a quote is never closed",
            {"line": None, "column": None, "value": None, "reason": ROW_TOO_LARGE},
        )
    what = f"the {plan.compression} stream is corrupt: " if isinstance(exc, OSError) else ""
    return LakeportError(
        "parse_error",
        f"the file could not be parsed: {what}{message[:300]}",
        {"line": None, "column": None, "value": None},
    )


def locate_bad_row(plan: CsvPlan) -> LakeportError | None:
    """The first data row whose field count differs from the header's, as parse_error."""
    try:
        found = next(bad_rows(plan), None)
    except LakeportError as exc:
        return exc
    if found is None:
        return None
    line, fields = found
    return _width_error(line, fields, plan.width, plan.delimiter)


def bad_rows(plan: CsvPlan) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of each data row whose field count differs from the header's.

    Lazy, so a caller that needs only the next bad row reads only up to it. A quote
    Python's reader cannot follow ends the scan with a ``parse_error`` naming its line.
    """
    reader = csv.reader(_lines(plan), delimiter=plan.delimiter, quotechar=QUOTE)
    previous = 0
    try:
        for fields in reader:
            start, previous = previous, reader.line_num
            if start < plan.data_line or not fields or len(fields) == plan.width:
                continue
            yield start + 1, fields
    except csv.Error as exc:
        raise LakeportError(
            "parse_error",
            f"line {previous + 1}: {exc} (is a quote left open?)",
            {"line": previous + 1, "column": None, "value": None},
        ) from exc


def _width_error(line: int, fields: list[str], width: int, delimiter: str) -> LakeportError:
    column = min(len(fields), width) + 1
    value = delimiter.join(fields)[:200]
    return LakeportError(
        "parse_error",
        f"line {line} has {len(fields)} fields but the header has {width}; check the "
        "delimiter and quoting of that line",
        {
            "line": line,
            "column": column,
            "value": value,
            "expected_fields": width,
            "actual_fields": len(fields),
        },
    )


def check_final_quote(plan: CsvPlan, last_value: str | None) -> None:
    """Raise if the file ends inside a quoted field.

    pyarrow (like most readers) silently ends an unclosed quote at end of file, turning
    every following line into one value of the last row. Only a final value holding a
    line break can be such a swallow, so only then is the end of the file examined.
    """
    if last_value is None or ("\n" not in last_value and "\r" not in last_value):
        return
    text = _tail(plan).decode(plan.encoding.codec, errors="ignore").rstrip("\r\n")
    if text.endswith(QUOTE):
        return
    start = 0
    reader = csv.reader(_lines(plan), delimiter=plan.delimiter, quotechar=QUOTE)
    previous = 0
    for _ in reader:
        start, previous = previous, reader.line_num
    raise LakeportError(
        "parse_error",
        f"the quote opened on line {start + 1} is never closed; everything after it would "
        "become one value",
        {"line": start + 1, "column": None, "value": last_value[:200]},
    )


def _tail(plan: CsvPlan, size: int = 64) -> bytes:
    """The last bytes of the (decompressed) file."""
    if plan.compression is None:
        with plan.path.open("rb") as fh:
            fh.seek(max(0, fh.seek(0, 2) - size))
            return fh.read()
    tail = b""
    for chunk in iter_chunks(plan.path, plan.compression):
        tail = (tail + chunk)[-size:]
    return tail


def _lines(plan: CsvPlan) -> Iterator[str]:
    """Physical lines (ends kept) of the decoded file, BOM removed."""
    decoder = codecs.getincrementaldecoder(plan.encoding.codec)(errors="replace")
    pending = ""
    skip = plan.encoding.bom
    for chunk in iter_chunks(plan.path, plan.compression):
        if skip:
            chunk, skip = chunk[skip:], max(0, skip - len(chunk))
        pending += decoder.decode(chunk)
        end = 0
        for match in _LINE.finditer(pending):
            if match.end() == len(pending) and pending.endswith("\r"):
                break  # maybe the first half of a CRLF split across chunks
            end = match.end()
            yield match.group(0)
        pending = pending[end:]
    pending += decoder.decode(b"", final=True)
    if pending:
        yield pending
