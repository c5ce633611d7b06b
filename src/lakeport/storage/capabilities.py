"""Optional storage capabilities: presigned PUT and presigned multipart uploads.

Each is its own small protocol (tusd's composers): a backend offers it or not, and the
API mounts the matching upload routes only when ``isinstance(store, SupportsX)``. Both
built-in backends offer both: S3 signs real S3 URLs; the local store signs its own URLs,
served by the API on ``/v1/blobs``.

The rules S3 applies to multipart uploads (part numbers 1-10000, every part but the
last at least 5 MiB, parts completed in ascending order with matching ETags) are
checked here, once, for every backend, so a client that works locally works on S3 and
a bad completion names the part that is wrong.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from lakeport.errors import LakeportError
from lakeport.storage.base import BlobInfo

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PART_SIZE = 5 * 1024**3
MAX_PART_NUMBER = 10_000
#: S3's limit on presigned URL lifetime (SigV4), applied to every backend.
MAX_EXPIRES_IN = 7 * 24 * 3600


@dataclass(frozen=True)
class PresignedRequest:
    """What a client needs to send one request straight to storage."""

    url: str
    method: str
    #: Headers the client must send as given (they are part of the signature).
    headers: dict[str, str]
    expires_at: datetime


@dataclass(frozen=True)
class PartInfo:
    """One uploaded part of a multipart upload."""

    part_number: int
    #: Quoted, as S3 returns it in the part PUT's ``ETag`` header: ``"<md5 hex>"``.
    etag: str
    size_bytes: int


@runtime_checkable
class SupportsPresign(Protocol):
    """Clients PUT a whole object straight to storage with a signed URL."""

    def presign_put(
        self, key: str, expires_in: int, content_type: str | None = None
    ) -> PresignedRequest:
        """A signed PUT for ``key`` valid ``expires_in`` seconds."""
        ...


@runtime_checkable
class SupportsMultipart(Protocol):
    """Clients PUT parts in parallel with signed URLs; the service completes the object."""

    def create_multipart(self, key: str) -> str:
        """Start a multipart upload of ``key``; returns the storage's upload id."""
        ...

    def presign_part(self, key: str, upload_id: str, part_number: int, expires_in: int) -> str:
        """A signed URL to PUT part ``part_number`` (1-10000)."""
        ...

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """Parts received so far, by part number (lets a client resume)."""
        ...

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> BlobInfo:
        """Assemble ``(part_number, etag)`` in order; ``bad_request`` names a bad part."""
        ...

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Discard the upload and its parts; unknown or finished uploads are fine."""
        ...


def normalise_etag(etag: str) -> str:
    """An ETag without quotes or a weak prefix, for comparing."""
    etag = etag.strip()
    return etag.removeprefix("W/").strip('"')


def quote_etag(etag: str) -> str:
    """An ETag in S3's quoted form."""
    return f'"{normalise_etag(etag)}"'


def check_expires_in(expires_in: int) -> int:
    """Refuse lifetimes S3 would refuse (a URL must expire, within 7 days)."""
    if not 1 <= expires_in <= MAX_EXPIRES_IN:
        raise LakeportError(
            "bad_request",
            f"a signed URL must expire within 1 to {MAX_EXPIRES_IN} seconds",
            {"expires_in": expires_in},
        )
    return expires_in


def check_part_number(part_number: int) -> int:
    """Part numbers are 1-10000, as on S3."""
    if not 1 <= part_number <= MAX_PART_NUMBER:
        raise LakeportError(
            "bad_request",
            f"part numbers run from 1 to {MAX_PART_NUMBER}",
            {"part_number": part_number},
        )
    return part_number


def check_completion(
    parts: Sequence[tuple[int, str]], uploaded: Mapping[int, PartInfo]
) -> list[PartInfo]:
    """The uploaded parts to assemble, in order; ``bad_request`` naming the first bad part.

    A part is bad when it was never uploaded, its ETag differs from what storage holds,
    it is out of order, or it is smaller than 5 MiB without being the last.
    """
    if not parts:
        raise LakeportError("bad_request", "a multipart completion needs at least one part")
    chosen: list[PartInfo] = []
    previous = 0
    for index, (number, etag) in enumerate(parts):
        check_part_number(number)
        if number <= previous:
            raise _bad_part(number, "is listed out of ascending order or twice")
        previous = number
        held = uploaded.get(number)
        if held is None:
            raise _bad_part(number, "was never uploaded; upload it again")
        if normalise_etag(held.etag) != normalise_etag(etag):
            raise _bad_part(number, "has a different ETag in storage; upload it again")
        if held.size_bytes < MIN_PART_SIZE and index < len(parts) - 1:
            raise _bad_part(number, f"is smaller than {MIN_PART_SIZE} bytes but not the last")
        chosen.append(held)
    return chosen


def _bad_part(number: int, why: str) -> LakeportError:
    return LakeportError("bad_request", f"part {number} {why}", {"part_number": number})
