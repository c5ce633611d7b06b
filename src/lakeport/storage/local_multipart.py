"""Multipart uploads for the local store, staged under the store's hidden directory.

Layout (``<staging>`` is ``<root>/.lakeport/multipart``)::

    <staging>/<upload_id>/upload.json          {"key", "created_at"}: which object it builds
    <staging>/<upload_id>/part-00001           one part's bytes, written atomically
    <staging>/<upload_id>/part-00001.json      its ETag cache {"etag", "size", "mtime_ns"}
    <staging>/<upload_id>/.lakeport-tmp-*      parts still arriving

Upload ids are random URL-safe tokens (they reach paths, so they are checked on every
call). Re-sending a part replaces it, last writer wins, as on S3. A part's ETag is the
quoted MD5 of its bytes; the cache is trusted only while size and mtime match, and
completion re-hashes every part while concatenating, so an object is never assembled
from bytes other than the ones the client's ETags describe. Completion streams the parts
in order through an ordinary atomic write, then removes the staging directory; the
object's ETag is the MD5 of the whole (not S3's ``-N`` form). Abandoned staging
directories are removed by ``abort_multipart`` (the uploads' retention calls it).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from lakeport.errors import LakeportError
from lakeport.storage._fs import (
    CHUNK,
    fsync_dir,
    hash_file,
    md5_hasher,
    read_json,
    receive,
    write_json,
)
from lakeport.storage.base import BlobInfo, BlobWriter, validate_key
from lakeport.storage.capabilities import (
    MAX_PART_SIZE,
    PartInfo,
    check_completion,
    check_part_number,
    normalise_etag,
    quote_etag,
)
from lakeport.storage.signing import check_upload_id

if TYPE_CHECKING:
    from lakeport.storage.local import LocalStore

_PART = re.compile(r"^part-(\d{5})$")


def _part_path(directory: Path, part_number: int) -> Path:
    return directory / f"part-{part_number:05d}"


def _upload_missing() -> LakeportError:
    return LakeportError(
        "not_found", "multipart upload not found (it may have been completed or aborted)"
    )


class LocalMultipart:
    """The staging side of :class:`~lakeport.storage.local.LocalStore`'s multipart uploads."""

    def __init__(self, store: LocalStore, staging: Path) -> None:
        self._store = store
        self._staging = staging

    def _directory(self, key: str, upload_id: str) -> Path:
        """The upload's staging directory; ``not_found`` unless it builds ``key``."""
        validate_key(key)
        directory = self._staging / check_upload_id(upload_id)
        record = read_json(directory / "upload.json")
        if record is None or record.get("key") != key:
            raise _upload_missing()
        return directory

    def create(self, key: str) -> str:
        """A fresh staging directory for ``key``."""
        validate_key(key)
        upload_id = secrets.token_urlsafe(24)
        directory = self._staging / upload_id
        directory.mkdir(parents=True, mode=0o700)
        created = datetime.now(UTC).isoformat()
        write_json(directory / "upload.json", {"key": key, "created_at": created})
        if read_json(directory / "upload.json") is None:
            shutil.rmtree(directory, ignore_errors=True)
            raise LakeportError("internal_error", "could not record the multipart upload")
        return upload_id

    def write_part(
        self,
        key: str,
        upload_id: str,
        part_number: int,
        chunks: Iterable[bytes],
        max_bytes: int | None,
    ) -> PartInfo:
        """Receive one part atomically and cache its ETag."""
        check_part_number(part_number)
        directory = self._directory(key, upload_id)
        limit = MAX_PART_SIZE if max_bytes is None else min(max_bytes, MAX_PART_SIZE)
        tmp, md5, st = receive(directory, chunks, limit)
        target = _part_path(directory, part_number)
        try:
            os.replace(tmp, target)
        except FileNotFoundError:  # aborted or completed meanwhile
            tmp.unlink(missing_ok=True)
            raise _upload_missing() from None
        fsync_dir(directory)
        etag = quote_etag(md5)
        self._cache(target, etag, st)
        return PartInfo(part_number, etag, st.st_size)

    def _cache(self, part: Path, etag: str, st: os.stat_result) -> None:
        record = {"etag": etag, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
        write_json(part.with_name(part.name + ".json"), record)

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """Parts on disk, by number, with cached (or recomputed) ETags."""
        directory = self._directory(key, upload_id)
        parts: list[PartInfo] = []
        for name in sorted(os.listdir(directory)):
            match = _PART.match(name)
            if match:
                info = self._part_info(directory / name, int(match.group(1)))
                if info is not None:
                    parts.append(info)
        return parts

    def _part_info(self, path: Path, number: int) -> PartInfo | None:
        try:
            st = path.stat()
        except FileNotFoundError:
            return None
        record = read_json(path.with_name(path.name + ".json"))
        if record and record.get("size") == st.st_size and record.get("mtime_ns") == st.st_mtime_ns:
            return PartInfo(number, str(record["etag"]), st.st_size)
        try:
            md5, st = hash_file(path)
        except FileNotFoundError:
            return None
        self._cache(path, quote_etag(md5), st)
        return PartInfo(number, quote_etag(md5), st.st_size)

    def complete(self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> BlobInfo:
        """Check the list against the staged parts, then concatenate them into ``key``."""
        directory = self._directory(key, upload_id)
        staged = {p.part_number: p for p in self.list_parts(key, upload_id)}
        chosen = check_completion(parts, staged)
        writer = self._store.open_write(key)
        try:
            for part in chosen:
                self._append(directory, part, writer)
            info = writer.commit()
        finally:
            writer.abort()
        shutil.rmtree(directory, ignore_errors=True)
        return info

    def _append(self, directory: Path, part: PartInfo, writer: BlobWriter) -> None:
        """Copy one part into the object, re-hashing it against the ETag the client sent."""
        md5 = md5_hasher()
        try:
            with _part_path(directory, part.part_number).open("rb") as file:
                while chunk := file.read(CHUNK):
                    md5.update(chunk)
                    writer.write(chunk)
        except FileNotFoundError:
            raise _upload_missing() from None
        if md5.hexdigest() != normalise_etag(part.etag):
            raise LakeportError(
                "bad_request",
                f"part {part.part_number} changed while completing; upload it again",
                {"part_number": part.part_number},
            )

    def abort(self, key: str, upload_id: str) -> None:
        """Remove the staging directory; an unknown upload is already aborted."""
        try:
            directory = self._directory(key, upload_id)
        except LakeportError as exc:
            if exc.code == "not_found":
                return
            raise
        shutil.rmtree(directory, ignore_errors=True)
