"""Which text encoding a file uses, and where its bytes stop decoding.

Rules, in order (a declared encoding always wins over detection):

1. A byte-order mark decides: UTF-8, UTF-16 LE/BE, UTF-32 LE/BE. The BOM is skipped.
2. BOM-less UTF-16 is recognised by its zero bytes at every other position.
3. If the head of the file is valid UTF-8, the file is UTF-8. A later invalid byte is an
   ``encoding_error`` naming its offset, never a silent replacement character.
4. If the head mixes valid multi-byte UTF-8 with invalid bytes, the file is *broken*
   UTF-8 (not a legacy encoding): ``encoding_error`` at the first bad byte.
5. Otherwise the file is legacy text: cp1252 (Windows Western, a superset of the
   printable Latin-1 range) when the head decodes under it; else a double-byte Asian
   encoding if a statistical detector names one (Shift-JIS ...); else Latin-1, which
   decodes any byte. Statistical detectors proved unreliable for single-byte text (on
   the corpus they call French ``mac_latin2`` and Greek ``cp1251``), so detection is
   deliberately this simple and recorded in the inspection; a user with Greek or
   Cyrillic data declares the encoding.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable
from dataclasses import dataclass

from lakeport.errors import LakeportError

_BOMS: list[tuple[bytes, str]] = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]

#: Legacy double-byte encodings a statistical guess may pick: the bytes cp1252 leaves
#: undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) are common lead bytes in exactly these.
#: Any other guess (a Cyrillic code page for a 20-byte file ...) is not trusted.
MULTIBYTE_LEGACY = frozenset(
    {"cp932", "shift_jis", "euc_jp", "gb2312", "gbk", "gb18030", "big5", "euc_kr", "cp949"}
)


@dataclass(frozen=True)
class TextEncoding:
    """A Python codec name (no BOM handling in it), the BOM length, and how we chose it."""

    codec: str
    bom: int
    how: str

    @property
    def is_utf8(self) -> bool:
        return self.codec == "utf-8"


def canonical(name: str) -> str:
    """A codec's canonical Python name (``"Latin1"`` -> ``"latin-1"``) or encoding_error."""
    try:
        found = codecs.lookup(name).name
    except LookupError as exc:
        raise LakeportError(
            "encoding_error", f"unknown encoding {name!r}", {"encoding": name}
        ) from exc
    return {"iso8859-1": "latin-1", "utf-8-sig": "utf-8"}.get(found, found)


def sniff_encoding(head: bytes, declared: str | None, complete: bool) -> TextEncoding:
    """Choose the encoding of a file from its first bytes (see the module rules)."""
    bom, bom_codec = _bom(head)
    if declared is not None:
        codec = canonical(declared)
        if codec in ("utf-16", "utf-32"):
            codec = bom_codec or f"{codec}-le"
        usable_bom = bom if bom_codec == codec else 0
        return TextEncoding(codec, usable_bom, "declared")
    if bom_codec is not None:
        return TextEncoding(bom_codec, bom, "bom")
    utf16 = _bomless_utf16(head)
    if utf16 is not None:
        return TextEncoding(utf16, 0, "zero-byte pattern")
    return _utf8_or_single_byte(head, complete)


def _bom(head: bytes) -> tuple[int, str | None]:
    for mark, codec in _BOMS:
        if head.startswith(mark):
            return len(mark), codec
    return 0, None


def _bomless_utf16(head: bytes) -> str | None:
    sample = head[:4096]
    if len(sample) < 8:
        return None
    even = sample[0::2].count(0) / len(sample[0::2])
    odd = sample[1::2].count(0) / len(sample[1::2])
    if odd > 0.4 and even < 0.05:
        return "utf-16-le"
    if even > 0.4 and odd < 0.05:
        return "utf-16-be"
    return None


def _utf8_or_single_byte(head: bytes, complete: bool) -> TextEncoding:
    bad = first_invalid_utf8(head, complete)
    if bad is None:
        return TextEncoding("utf-8", 0, "valid utf-8")
    if _mostly_utf8(head):
        raise LakeportError(
            "encoding_error",
            f"the file is UTF-8 with an invalid byte at offset {bad}; fix the file or "
            "declare its encoding",
            {"offset": bad, "encoding": "utf-8"},
        )
    try:
        head.decode("cp1252")
    except UnicodeDecodeError:
        return _not_western(head)
    return TextEncoding("cp1252", 0, "not utf-8; assumed cp1252")


def _not_western(head: bytes) -> TextEncoding:
    """Neither UTF-8 nor cp1252: a statistical detector may name a double-byte legacy
    encoding (Shift-JIS ...); otherwise Latin-1, which decodes every byte."""
    try:
        import charset_normalizer
    except ImportError:  # optional: without it such files are read as Latin-1
        return TextEncoding("latin-1", 0, "not utf-8; bytes undefined in cp1252")
    best = charset_normalizer.from_bytes(head[:65536]).best()
    if best is not None and canonical(best.encoding) in MULTIBYTE_LEGACY:
        codec = canonical(best.encoding)
        try:
            codecs.getincrementaldecoder(codec)().decode(head, final=False)
        except UnicodeDecodeError:
            pass
        else:
            return TextEncoding(codec, 0, "not utf-8 or cp1252; detected statistically")
    return TextEncoding("latin-1", 0, "not utf-8; bytes undefined in cp1252")


def first_invalid_utf8(data: bytes, complete: bool) -> int | None:
    """Offset of the first byte that is not UTF-8; a sequence cut by the end is fine
    unless ``complete`` (the data is the whole file)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(data, final=complete)
    except UnicodeDecodeError as exc:
        return int(exc.start)
    return None


def _mostly_utf8(head: bytes) -> bool:
    """More valid multi-byte characters than invalid bytes: broken UTF-8, not a legacy
    encoding (where valid-looking sequences occur only by coincidence)."""
    text = head.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return good > bad


def decode_head(head: bytes, enc: TextEncoding, complete: bool) -> str:
    """The head as text, dropping a multi-byte sequence cut off at the end."""
    decoder = codecs.getincrementaldecoder(enc.codec)()
    try:
        return str(decoder.decode(head[enc.bom :], final=complete))
    except UnicodeDecodeError as exc:
        offset = enc.bom + int(exc.start)
        raise encoding_error(offset, enc.codec) from exc


def encoding_error(offset: int, codec: str) -> LakeportError:
    """The error for bytes that do not decode; ``offset`` counts from the file start
    (after decompression, for a compressed file)."""
    return LakeportError(
        "encoding_error",
        f"byte at offset {offset} is not valid {codec}; fix the file or declare its encoding",
        {"offset": offset, "encoding": codec},
    )


def find_decode_error(chunks: Iterable[bytes], enc: TextEncoding) -> int | None:
    """Offset of the first undecodable byte in the stream of ``chunks`` (whole file)."""
    decoder = codecs.getincrementaldecoder(enc.codec)()
    position = 0
    for chunk in chunks:
        pending = len(decoder.getstate()[0])
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            return position - pending + int(exc.start)
        position += len(chunk)
    pending = len(decoder.getstate()[0])
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return position - pending + int(exc.start)
    return None
