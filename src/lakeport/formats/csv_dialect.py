"""Sniffing a delimited file's dialect from its head: delimiter, preamble, header.

The sniffer only *proposes*; the CSV reader's first pass then verifies the proposal
against every row of the file (same field count everywhere, RFC 4180 quoting with
embedded newlines), and a row that disagrees is a ``parse_error`` with its line number,
never a silently dropped or split row.

* Delimiter: each candidate (``,`` ``;`` tab ``|``) parses the head quote-aware; the one
  whose rows most consistently share a field count > 1 wins, more columns breaking ties.
* Quote: always ``"`` with doubled-quote escaping (RFC 4180). A single quote is an
  apostrophe far more often than a quote character, and guessing it wrong splits rows.
* Preamble: leading lines with clearly fewer fields (title lines, ``#`` comments) before
  the first full-width row are skipped and reported in the inspection.
* Header: the first full-width row is a header unless, for every column whose values in
  the following rows have a recognisable type (number, date, boolean ...), the first row
  fits that type too. A file of text only is assumed to have a header.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

from lakeport.errors import LakeportError
from lakeport.formats.encoding import TextEncoding

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
QUOTE = '"'
SNIFF_CHARS = 256 * 1024
MAX_PREAMBLE = 20
HEADER_SAMPLE_ROWS = 500

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_CLASSES: list[tuple[str, re.Pattern[str]]] = [
    ("number", re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")),
    ("bool", re.compile(r"^(?i:true|false)$")),
    (
        "date",
        re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"),
    ),
]

csv.field_size_limit(1 << 30)


@dataclass(frozen=True)
class Dialect:
    """A sniffed (or user-given) dialect and where the data rows begin."""

    delimiter: str
    header: bool
    names: list[str]
    skipped_lines: int
    data_line: int
    data_offset: int
    line_ending: str


@dataclass(frozen=True)
class _Record:
    fields: list[str]
    first_line: int
    end_line: int


def sniff_dialect(
    text: str,
    enc: TextEncoding,
    delimiter: str | None,
    header: bool | None,
    complete: bool,
) -> Dialect:
    """Propose a dialect for ``text`` (the decoded head, BOM removed)."""
    lines = _lines(text[:SNIFF_CHARS], complete and len(text) <= SNIFF_CHARS)
    candidates = (delimiter,) if delimiter else DELIMITERS
    scored = [(_score(records), d, records) for d in candidates for records in [_parse(lines, d)]]
    scored.sort(key=lambda item: item[0], reverse=True)
    _, chosen, records = scored[0]
    width = _mode_width(records)
    start = _preamble(records, width)
    body = records[start:]
    if not body:
        raise LakeportError("empty_file", "the file has no rows, only blank lines")
    has_header = _has_header(body) if header is None else header
    first = body[0]
    if has_header and len(first.fields) != width:
        raise _width_error(first, width)
    names = list(first.fields) if has_header else [f"column_{i}" for i in range(1, width + 1)]
    data_line = first.end_line if has_header else first.first_line
    offset_chars = sum(len(line) for line in lines[:data_line])
    return Dialect(
        delimiter=chosen,
        header=has_header,
        names=names,
        skipped_lines=body[0].first_line,
        data_line=data_line,
        data_offset=enc.bom + len(text[:offset_chars].encode(enc.codec)),
        line_ending=_line_ending(lines),
    )


def _lines(text: str, complete: bool) -> list[str]:
    lines = _LINE.findall(text)
    if lines and not complete and not lines[-1].endswith(("\n", "\r")):
        lines.pop()
    return lines


def _parse(lines: list[str], delimiter: str) -> list[_Record]:
    """Quote-aware records with the physical lines each spans; a record cut off by the
    end of the sample is dropped."""
    reader = csv.reader(iter(lines), delimiter=delimiter, quotechar=QUOTE, doublequote=True)
    records: list[_Record] = []
    previous = 0
    for fields in _safe_rows(reader):
        if fields:
            records.append(_Record(fields, previous, reader.line_num))
        previous = reader.line_num
    return records


def _safe_rows(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    try:
        yield from reader
    except csv.Error:
        return


def _mode_width(records: list[_Record]) -> int:
    if not records:
        return 1
    counts = Counter(len(r.fields) for r in records)
    return max(counts.items(), key=lambda item: (item[1], item[0]))[0]


def _score(records: list[_Record]) -> tuple[bool, int, int, int]:
    """Higher is better: a real delimiter, consistent widths, no preamble, more columns."""
    width = _mode_width(records)
    start = _preamble(records, width)
    body = records[start:]
    if not body:
        return (False, 0, 0, 0)
    consistent = sum(1 for r in body if len(r.fields) == width) / len(body)
    return (width > 1, round(consistent * 50), -start, width)


def _preamble(records: list[_Record], width: int) -> int:
    for index, record in enumerate(records[: MAX_PREAMBLE + 1]):
        count = len(record.fields)
        if count == width or count > max(1, width // 2):
            return index
    return 0


def _classify(value: str) -> str | None:
    if value in ("", "NA", "N/A", "NULL", "null"):
        return None
    for name, pattern in _CLASSES:
        if pattern.match(value):
            return name
    return "text"


def _column_classes(rows: list[_Record], width: int) -> list[str | None]:
    classes: list[str | None] = [None] * width
    for record in rows:
        for j, value in enumerate(record.fields[:width]):
            found = _classify(value)
            if found is None or classes[j] == "text":
                continue
            classes[j] = found if classes[j] in (None, found) else "text"
    return classes


def _has_header(body: list[_Record]) -> bool:
    first, rest = body[0], body[1 : 1 + HEADER_SAMPLE_ROWS]
    if not rest:
        return True
    matched = 0
    for j, column_class in enumerate(_column_classes(rest, len(first.fields))):
        if column_class in (None, "text"):
            continue
        found = _classify(first.fields[j])
        if found is None:
            continue
        if found != column_class:
            return True
        matched += 1
    return matched == 0


def _line_ending(lines: list[str]) -> str:
    for line in lines:
        if line.endswith("\r\n"):
            return "crlf"
        if line.endswith("\r"):
            return "cr"
        if line.endswith("\n"):
            return "lf"
    return "none"


def _width_error(record: _Record, width: int) -> LakeportError:
    return LakeportError(
        "parse_error",
        f"the header on line {record.first_line + 1} has {len(record.fields)} fields but "
        f"the rows have {width}",
        {
            "line": record.first_line + 1,
            "column": None,
            "value": None,
            "expected_fields": width,
            "actual_fields": len(record.fields),
        },
    )
