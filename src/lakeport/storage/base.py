"""The BlobStore port: the small interface every landing-zone backend implements.

The upload protocol, the pipeline and the sources never know which storage they talk to
(tusd's lesson). They see ``/``-separated relative keys built from IDs and get back
:class:`BlobInfo` records. Optional abilities (presigned URLs, multipart uploads) are
separate protocols in :mod:`lakeport.storage.capabilities`, so a backend that lacks one
simply does not satisfy it and the routes for it are not mounted.

ETags in :class:`BlobInfo` are unquoted. For an object written in one piece they are the
MD5 hex of its bytes on both backends; an S3 multipart object has S3's ``<hex>-<parts>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from lakeport.errors import LakeportError

#: Characters no key may contain: control characters (NUL included) and backslashes,
#: which some filesystems and tools treat as separators.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\\]")

#: S3's limit on key length in bytes; the local backend keeps the same rule so keys
#: that work on one backend work on the other.
MAX_KEY_BYTES = 1024

#: Key segments starting with this are reserved for the stores' own bookkeeping (the
#: local backend's temporary files, ETag cache and multipart staging). Refused on every
#: backend, so a key that works on one works on all.
RESERVED_SEGMENT_PREFIX = ".lakeport"


@dataclass(frozen=True)
class BlobInfo:
    """What storage knows about one stored object."""

    key: str
    size_bytes: int
    #: Unquoted; MD5 hex of the content for objects written in one piece.
    etag: str
    #: Timezone-aware (UTC).
    modified_at: datetime


class BlobNotFound(LakeportError):
    """The object does not exist. Carries the key for logs; the message never shows it,
    because object keys are internal and must not leak into API responses."""

    def __init__(self, key: str) -> None:
        super().__init__("not_found", "the stored object does not exist")
        self.key = key


class BlobWriter(Protocol):
    """A streamed write of one object: nothing is visible under the key until ``commit``."""

    @property
    def bytes_written(self) -> int:
        """Bytes accepted by :meth:`write` so far."""
        ...

    def write(self, data: bytes) -> None:
        """Append ``data``; may block while a buffered part is sent."""
        ...

    def commit(self) -> BlobInfo:
        """Publish the object atomically and return its info."""
        ...

    def abort(self) -> None:
        """Discard everything written; idempotent, and a no-op after a commit."""
        ...


class BlobStore(Protocol):
    """Landing-zone storage: the only way lakeport reads or writes uploaded bytes."""

    #: ``"local"`` or ``"s3"``.
    name: str

    def open_write(self, key: str) -> BlobWriter:
        """Start a streamed, atomic write of ``key`` (memory bounded by one part)."""
        ...

    def put_file(self, key: str, path: Path) -> BlobInfo:
        """Store the file at ``path`` under ``key``."""
        ...

    def stat(self, key: str) -> BlobInfo | None:
        """The object's info, or None when it does not exist."""
        ...

    def open_read(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A streamed reader; raises :class:`BlobNotFound` when the key is missing."""
        ...

    def fetch_local(self, key: str) -> AbstractContextManager[Path]:
        """A local file with the object's bytes, valid inside the ``with`` block only.

        Local: the stored file itself (read it, never modify it). S3: a temporary
        download, deleted on exit. Raises :class:`BlobNotFound` when the key is missing.
        """
        ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Remove every object whose key starts with ``prefix``; returns how many."""
        ...

    def list(self, prefix: str, start_after: str | None = None) -> Iterator[BlobInfo]:
        """Objects under ``prefix`` in key order, after ``start_after``; paginated lazily."""
        ...

    def ping(self) -> None:
        """Raise ``TransientError("storage_error")`` when the storage does not answer."""
        ...

    def close(self) -> None:
        """Release connections and other resources held by the store."""
        ...


def _reject(what: str, value: str, why: str) -> LakeportError:
    return LakeportError("bad_request", f"invalid storage {what}: {why}", {what: value[:200]})


def validate_key(key: str) -> str:
    """Return ``key`` when it is a safe relative key, else raise ``bad_request``.

    Keys are built by the service from IDs, so a bad one is a bug or an attack; this is
    defence in depth against path tricks reaching a filesystem or a bucket.
    """
    _check_common("key", key)
    if key.endswith("/"):
        raise _reject("key", key, "must not end with '/'")
    return key


def validate_prefix(prefix: str, *, allow_empty: bool = True) -> str:
    """Like :func:`validate_key`, for a prefix (which may end with ``/``)."""
    if prefix == "":
        if not allow_empty:
            raise _reject("prefix", prefix, "must not be empty")
        return prefix
    _check_common("prefix", prefix.removesuffix("/"))
    return prefix


def _check_common(what: str, value: str) -> None:
    if not isinstance(value, str) or value == "":
        raise _reject(what, str(value), "must be a non-empty string")
    try:
        encoded = value.encode("utf-8")
    except UnicodeEncodeError:
        raise _reject(what, value, "is not valid Unicode") from None
    if len(encoded) > MAX_KEY_BYTES:
        raise _reject(what, value, f"longer than {MAX_KEY_BYTES} bytes")
    if _FORBIDDEN.search(value):
        raise _reject(what, value, "contains a control character or a backslash")
    if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        raise _reject(what, value, "must be relative")
    for segment in value.split("/"):
        if segment in ("", ".", ".."):
            raise _reject(what, value, "has an empty, '.' or '..' segment")
        if segment.startswith(RESERVED_SEGMENT_PREFIX):
            raise _reject(
                what, value, f"segments starting {RESERVED_SEGMENT_PREFIX!r} are reserved"
            )
