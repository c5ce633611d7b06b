"""What a file is, from its bytes alone: never from its name.

Magic numbers decide binary containers (Parquet ``PAR1``, gzip, zstd, zip/xlsx); for
text, the first significant character decides JSON (``{``, or ``[`` followed by
something a JSON value can start with) against delimited text. Compressed files are
looked into: a gzip- or zstd-compressed CSV or JSON is detected from its decompressed
head and later streamed through the decompressor, never unpacked to disk.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from lakeport.errors import LakeportError
from lakeport.formats.base import FORMATS, ReadOptions
from lakeport.formats.encoding import TextEncoding, decode_head, sniff_encoding

#: Bytes of (decompressed) content used for detection and dialect sniffing.
HEAD_BYTES = 1 << 20
CHUNK_BYTES = 4 << 20

_COMPRESSION_MAGIC: list[tuple[bytes, str]] = [
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
]
_UNSUPPORTED_MAGIC: list[tuple[bytes, str]] = [
    (b"\xd0\xcf\x11\xe0", "a legacy Office (.xls) file; save it as .xlsx or CSV"),
    (b"BZh", "a bzip2 archive; use gzip or zstd, or upload it uncompressed"),
    (b"\xfd7zXZ\x00", "an xz archive; use gzip or zstd, or upload it uncompressed"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive; upload the file inside"),
    (b"%PDF", "a PDF document"),
    (b"ARROW1", "an Arrow IPC file"),
    (b"Obj\x01", "an Avro file"),
    (b"ORC", "an ORC file"),
]
#: Parquet files start and end with PAR1 (PARE when the footer is encrypted); a file
#: with a damaged head but a Parquet tail is still a (broken) Parquet file.
_PARQUET_MAGIC = (b"PAR1", b"PARE")
_JSON_AFTER_BRACKET = set('{["]-0123456789tfn,')


@dataclass(frozen=True)
class Detected:
    """The detected format and compression, and the decompressed head of the content."""

    format: str
    compression: str | None
    head: bytes
    complete: bool


def detect(path: Path, options: ReadOptions) -> Detected:
    """Detect format and compression; ``options.format`` overrides the content sniff."""
    with path.open("rb") as fh:
        magic = fh.read(8)
    if not magic:
        raise LakeportError("empty_file", "the file is empty (0 bytes)")
    if magic[:4] in _PARQUET_MAGIC or _tail(path) in _PARQUET_MAGIC:
        return Detected(_override(options, "parquet"), None, b"", False)
    if magic.startswith(b"PK\x03\x04") or magic.startswith(b"PK\x05\x06"):
        return Detected(_zip_kind(path, options), None, b"", False)
    compression = _compression(magic)
    head = read_head(path, compression)
    complete = len(head) < HEAD_BYTES
    if not head:
        raise LakeportError("empty_file", "the file is empty after decompression")
    if compression is None:
        _reject_unsupported(magic)
    return Detected(
        _override(options, _text_kind(head, options, complete)), compression, head, complete
    )


def _tail(path: Path) -> bytes:
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        if size < 12:
            return b""
        fh.seek(size - 4)
        return fh.read(4)


def _override(options: ReadOptions, found: str) -> str:
    if options.format is None:
        return found
    wanted = options.format.lower()
    if wanted not in FORMATS:
        raise LakeportError(
            "unsupported_format",
            f"unknown format {options.format!r}; use one of {', '.join(FORMATS)}",
            {"format": options.format},
        )
    return "csv" if wanted == "tsv" else wanted


def _compression(magic: bytes) -> str | None:
    for prefix, name in _COMPRESSION_MAGIC:
        if magic.startswith(prefix):
            return name
    return None


def _reject_unsupported(magic: bytes) -> None:
    for prefix, what in _UNSUPPORTED_MAGIC:
        if magic.startswith(prefix):
            raise LakeportError("unsupported_format", f"the file is {what}")


def _zip_kind(path: Path, options: ReadOptions) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            members = set(zf.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise LakeportError("unsupported_format", f"unreadable zip archive: {exc}") from exc
    if "xl/workbook.xml" in members:
        return _override(options, "xlsx")
    raise LakeportError(
        "unsupported_format",
        "the file is a zip archive; upload the file inside it (gzip or zstd are accepted)",
        {"members": sorted(members)[:10]},
    )


def _text_kind(head: bytes, options: ReadOptions, complete: bool) -> str:
    enc = sniff_encoding(head, options.encoding, complete)
    text = decode_head(head[:65536], enc, complete and len(head) <= 65536)
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped:
        return "csv"
    if stripped[0] == "{":
        return "json"
    if stripped[0] == "[":
        rest = stripped[1:].lstrip(" \t\r\n")
        if not rest or rest[0] in _JSON_AFTER_BRACKET:
            return "json"
    _reject_binary(text)
    return "csv"


def _reject_binary(text: str) -> None:
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n")
    if controls >= 3 and controls / len(sample) > 0.1:
        raise LakeportError(
            "unsupported_format",
            "the file looks binary (control characters), not delimited text",
            {"control_chars": controls},
        )


def open_stream(path: Path, compression: str | None) -> pa.NativeFile:
    """A readable stream of the file's (decompressed) bytes."""
    raw = pa.OSFile(str(path), "rb")
    if compression is None:
        return raw
    return pa.CompressedInputStream(raw, compression)


def read_head(path: Path, compression: str | None, size: int = HEAD_BYTES) -> bytes:
    """Up to ``size`` decompressed bytes from the start of the file."""
    try:
        with open_stream(path, compression) as stream:
            return bytes(stream.read(size))
    except (OSError, pa.ArrowException) as exc:
        raise LakeportError(
            "parse_error",
            f"the {compression} stream is corrupt: {exc}",
            {"compression": compression},
        ) from exc


def iter_chunks(path: Path, compression: str | None, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The file's decompressed bytes in chunks, for slow-path scans (error location)."""
    with open_stream(path, compression) as stream:
        while True:
            chunk = stream.read(size)
            if not chunk:
                return
            yield bytes(chunk)


def text_encoding(found: Detected, options: ReadOptions) -> TextEncoding:
    """The encoding of a detected text file."""
    return sniff_encoding(found.head, options.encoding, found.complete)
