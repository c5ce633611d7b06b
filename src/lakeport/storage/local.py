"""LocalStore: the landing zone as plain files under one root directory.

Key layout (``<root>`` is ``settings.storage_root()``)::

    <root>/<key>                             the object's bytes; '/' in keys = directories
    <root>/<dir>/.lakeport-tmp-*             in-flight writes, next to their target
    <root>/.lakeport/meta/<key>.json         ETag cache: {"etag", "size", "mtime_ns"}
    <root>/.lakeport/multipart/<upload_id>/  staged parts of a multipart upload

Permissions: directories are created 0700 and files 0600 (tempfile's default): the
landing zone holds tenants' raw data and only the service's user needs it.

Consistency: a write goes to a temporary file in the target's directory, is fsynced and
then ``os.replace``d over the key, so readers see the old object or the new one, never a
mix, and a crash leaves at most a ``.lakeport-tmp-*`` orphan (invisible to ``list``;
safe to sweep when older than a day). The ETag is the MD5 of the bytes, computed while
writing (as S3 does for a single PUT) and cached in a sidecar JSON file. The sidecar is
written *after* the object, so it can be missing or stale after a crash or an
out-of-band edit; it is trusted only while the file's size and mtime_ns match what it
recorded, else the MD5 is recomputed and the cache rewritten. Empty directories are
pruned after a delete; a writer racing that prune retries its ``mkdir``. ``fetch_local``
hands out the stored file's path itself: a file already opened keeps its bytes across
an overwrite (``os.replace`` swaps inodes), but opening the path again after one reads
the new object; landing keys are written once, so this does not arise in practice.

Unlike S3, a key cannot be both an object and a directory: with ``a/b`` stored, ``a``
cannot be written (``conflict``). Keys built from IDs never collide this way.
"""

from __future__ import annotations

import builtins
import os
import stat as stat_mod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from lakeport.errors import LakeportError, TransientError
from lakeport.storage._fs import (
    CHUNK,
    HIDDEN,
    fsync_dir,
    hash_file,
    make_temp,
    md5_hasher,
    read_json,
    utc_mtime,
    write_json,
)
from lakeport.storage.base import BlobInfo, BlobNotFound, validate_key, validate_prefix
from lakeport.storage.capabilities import (
    PartInfo,
    PresignedRequest,
    check_expires_in,
    check_part_number,
)
from lakeport.storage.local_multipart import LocalMultipart
from lakeport.storage.signing import LocalGrant, sign_local_url, verify_local_url


class LocalWriter:
    """A streamed write into a temporary file, published by ``os.replace`` on commit."""

    def __init__(self, store: LocalStore, key: str) -> None:
        self._store = store
        self._key = key
        self._final = store.path_for(key)
        self._tmp, self._file = make_temp(self._final.parent)
        self._md5 = md5_hasher()
        self._written = 0
        self._state = "open"

    @property
    def bytes_written(self) -> int:
        """Bytes accepted so far."""
        return self._written

    def write(self, data: bytes) -> None:
        """Append ``data`` to the temporary file, hashing on the way."""
        if self._state != "open":
            raise RuntimeError(f"write after {self._state}")
        try:
            self._file.write(data)
        except BaseException:
            self._state = "failed"  # a short write must not be committed later
            raise
        self._md5.update(data)
        self._written += len(data)

    def commit(self) -> BlobInfo:
        """Flush, fsync and atomically move the file into place."""
        if self._state != "open":
            raise RuntimeError(f"commit after {self._state}")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            st = os.fstat(self._file.fileno())
            self._file.close()
            os.replace(self._tmp, self._final)
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        fsync_dir(self._final.parent)
        etag = self._md5.hexdigest()
        self._store.save_etag(self._key, etag, st)
        return BlobInfo(self._key, st.st_size, etag, utc_mtime(st))

    def abort(self) -> None:
        """Remove the temporary file; a no-op once committed or aborted."""
        if self._state in ("committed", "aborted"):
            return
        self._state = "aborted"
        self._file.close()
        self._tmp.unlink(missing_ok=True)


class LocalStore:
    """A :class:`~lakeport.storage.base.BlobStore` on the local filesystem.

    Also offers presigned PUT and multipart uploads with URLs this service signs itself
    (HMAC, see :mod:`lakeport.storage.signing`) and serves on ``/v1/blobs``.
    """

    name: str = "local"

    def __init__(self, root: Path, *, signing_key: bytes | None = None, base_url: str = "") -> None:
        """``base_url`` prefixes signed URLs (empty: URLs are relative to the API)."""
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._meta = self.root / HIDDEN / "meta"
        self._signing_key = signing_key
        self._base_url = base_url.rstrip("/")
        self._multipart = LocalMultipart(self, self.root / HIDDEN / "multipart")

    # -- paths and bookkeeping ------------------------------------------------------

    def path_for(self, key: str) -> Path:
        """The file that holds ``key`` (validated; never outside the root)."""
        return self.root.joinpath(*validate_key(key).split("/"))

    def _meta_path(self, key: str) -> Path:
        return self._meta.joinpath(*key.split("/")).with_name(key.rsplit("/", 1)[-1] + ".json")

    def save_etag(self, key: str, etag: str, st: os.stat_result) -> None:
        """Cache ``etag`` for the file whose stat is ``st`` (atomically, best effort)."""
        record = {"etag": etag, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        write_json(self._meta_path(key), record)

    def _cached_etag(self, key: str, st: os.stat_result) -> str | None:
        record = read_json(self._meta_path(key))
        if record is None:
            return None
        if record.get("size") == st.st_size and record.get("mtime_ns") == st.st_mtime_ns:
            etag = record.get("etag")
            return etag if isinstance(etag, str) else None
        return None

    def _info(self, key: str, path: Path) -> BlobInfo | None:
        try:
            st = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat_mod.S_ISREG(st.st_mode):
            return None
        etag = self._cached_etag(key, st)
        if etag is None:
            return self._rehash(key, path)
        return BlobInfo(key, st.st_size, etag, utc_mtime(st))

    def _rehash(self, key: str, path: Path) -> BlobInfo | None:
        """Recompute a missing or stale ETag from one open file, so size and hash agree."""
        try:
            etag, st = hash_file(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        self.save_etag(key, etag, st)
        return BlobInfo(key, st.st_size, etag, utc_mtime(st))

    def _prune(self, directory: Path, stop: Path) -> None:
        """Remove empty directories from ``directory`` up to (not including) ``stop``."""
        while directory != stop and stop in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return
            directory = directory.parent

    # -- the BlobStore protocol -----------------------------------------------------

    def open_write(self, key: str) -> LocalWriter:
        """Start an atomic streamed write of ``key``."""
        return LocalWriter(self, key)

    def put_file(self, key: str, path: Path) -> BlobInfo:
        """Copy the file at ``path`` into the store (a copy: the source stays the caller's)."""
        writer = self.open_write(key)
        try:
            with Path(path).open("rb") as source:
                while chunk := source.read(CHUNK):
                    writer.write(chunk)
            return writer.commit()
        finally:
            writer.abort()

    def stat(self, key: str) -> BlobInfo | None:
        """Size, cached MD5 ETag and mtime of ``key``, or None when missing."""
        return self._info(key, self.path_for(key))

    @contextmanager
    def open_read(self, key: str) -> Iterator[BinaryIO]:
        """The stored file, opened for buffered reading."""
        path = self.path_for(key)
        try:
            file = path.open("rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise BlobNotFound(key) from None
        with file:
            yield file

    @contextmanager
    def fetch_local(self, key: str) -> Iterator[Path]:
        """The stored file itself, no copy (callers only read it)."""
        path = self.path_for(key)
        if not path.is_file():
            raise BlobNotFound(key)
        yield path

    def delete(self, key: str) -> None:
        """Remove the object and its ETag cache; missing is fine."""
        path = self.path_for(key)
        try:
            path.unlink()
        except (FileNotFoundError, NotADirectoryError):
            pass
        except IsADirectoryError:
            return  # a "directory" is not an object; nothing to delete
        meta = self._meta_path(key)
        meta.unlink(missing_ok=True)
        self._prune(path.parent, self.root)
        self._prune(meta.parent, self._meta)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (which must not be empty)."""
        validate_prefix(prefix, allow_empty=False)
        count = 0
        for key, _path in self._walk(prefix, None):
            self.delete(key)
            count += 1
        return count

    def list(self, prefix: str, start_after: str | None = None) -> Iterator[BlobInfo]:
        """Objects under ``prefix`` in key (code point) order, as S3 lists them."""
        validate_prefix(prefix)
        for key, path in self._walk(prefix, start_after):
            info = self._info(key, path)
            if info is not None:
                yield info

    def ping(self) -> None:
        """The root exists and is writable."""
        if not (self.root.is_dir() and os.access(self.root, os.W_OK | os.X_OK)):
            raise TransientError(
                "storage_error", "the local storage directory is missing or not writable"
            )

    def close(self) -> None:
        """Nothing to release: files are opened per call."""

    # -- presigned PUT and multipart (capabilities) -----------------------------------

    def _sign(
        self,
        key: str,
        expires_in: int,
        *,
        upload_id: str | None = None,
        part_number: int | None = None,
        content_type: str | None = None,
    ) -> tuple[str, datetime]:
        if not self._signing_key:
            raise LakeportError("internal_error", "local storage has no URL-signing key")
        return sign_local_url(
            self._signing_key, self._base_url, "PUT", key, check_expires_in(expires_in),
            upload_id=upload_id, part_number=part_number, content_type=content_type,
        )  # fmt: skip

    def presign_put(
        self, key: str, expires_in: int, content_type: str | None = None
    ) -> PresignedRequest:
        """A URL the API's ``/v1/blobs`` route accepts one PUT of ``key`` on."""
        url, expires_at = self._sign(key, expires_in, content_type=content_type)
        headers = {"Content-Type": content_type} if content_type else {}
        return PresignedRequest(url, "PUT", headers, expires_at)

    def create_multipart(self, key: str) -> str:
        """Open a staging directory for ``key``'s parts; returns its upload id."""
        return self._multipart.create(key)

    def presign_part(self, key: str, upload_id: str, part_number: int, expires_in: int) -> str:
        """A URL the ``/v1/blobs`` route accepts one PUT of this part on."""
        check_part_number(part_number)
        url, _ = self._sign(key, expires_in, upload_id=upload_id, part_number=part_number)
        return url

    def list_parts(self, key: str, upload_id: str) -> builtins.list[PartInfo]:
        """Parts staged so far, by part number."""
        return self._multipart.list_parts(key, upload_id)

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> BlobInfo:
        """Concatenate the parts, streaming, in order, into ``key`` (ETag: MD5 of it all)."""
        return self._multipart.complete(key, upload_id, parts)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop the staged parts; unknown uploads are fine."""
        self._multipart.abort(key, upload_id)

    def verify_request(self, method: str, url: str, content_type: str | None = None) -> LocalGrant:
        """What a request to ``/v1/blobs`` may do; ``forbidden`` if its URL is not ours."""
        return verify_local_url(self._signing_key or b"", method, url, content_type=content_type)

    def write_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        chunks: Iterable[bytes],
        max_bytes: int | None = None,
    ) -> PartInfo:
        """Store one part's body (called by the route after :meth:`verify_request`).

        ``max_bytes`` caps the part below S3's 5 GiB (e.g. at the declared size).
        """
        return self._multipart.write_part(key, upload_id, part_number, chunks, max_bytes)

    def write_presigned_object(
        self, key: str, chunks: Iterable[bytes], max_bytes: int | None = None
    ) -> BlobInfo:
        """Store a presigned PUT's body atomically (called after :meth:`verify_request`)."""
        writer = self.open_write(key)
        try:
            for chunk in chunks:
                if max_bytes is not None and writer.bytes_written + len(chunk) > max_bytes:
                    raise LakeportError(
                        "payload_too_large",
                        f"the body is larger than the {max_bytes} bytes allowed here",
                        {"limit_bytes": max_bytes},
                    )
                writer.write(chunk)
            return writer.commit()
        finally:
            writer.abort()

    # -- listing --------------------------------------------------------------------

    def _walk(self, prefix: str, start_after: str | None) -> Iterator[tuple[str, Path]]:
        """(key, path) of files under ``prefix`` in key order, without reading all keys.

        Starts in the deepest directory the prefix names and visits one directory
        listing at a time, skipping subtrees that cannot hold a matching key.
        """
        base = prefix.rsplit("/", 1)[0] + "/" if "/" in prefix else ""
        start = self.root.joinpath(*base.split("/")[:-1]) if base else self.root
        yield from self._walk_dir(start, base, prefix, start_after or "")

    def _walk_dir(
        self, directory: Path, dir_key: str, prefix: str, after: str
    ) -> Iterator[tuple[str, Path]]:
        for name, is_dir in _sorted_entries(directory):
            key = dir_key + name
            if is_dir:
                sub = key + "/"
                if not (sub.startswith(prefix) or prefix.startswith(sub)):
                    continue
                if sub <= after and not after.startswith(sub):
                    continue  # every key in this subtree sorts before start_after
                yield from self._walk_dir(directory / name, sub, prefix, after)
            elif key.startswith(prefix) and key > after:
                yield key, directory / name


def _sorted_entries(directory: Path) -> Sequence[tuple[str, bool]]:
    """A directory's visible entries sorted as their keys sort (a directory as 'name/')."""
    try:
        with os.scandir(directory) as scan:
            entries = [
                (e.name, e.is_dir(follow_symlinks=False))
                for e in scan
                if not e.name.startswith(HIDDEN)
            ]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(entries, key=lambda e: e[0] + "/" if e[1] else e[0])
