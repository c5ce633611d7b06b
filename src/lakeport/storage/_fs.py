"""Small filesystem helpers shared by the local store and its multipart staging."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from lakeport.errors import LakeportError

#: Names of the store's own bookkeeping start with this; listings never show them.
HIDDEN = ".lakeport"
TMP_PREFIX = ".lakeport-tmp-"
CHUNK = 1024 * 1024


def md5_hasher() -> Any:
    """MD5 for ETags (a checksum S3 compatibility asks for, not a security measure)."""
    return hashlib.md5(usedforsecurity=False)


def utc_mtime(st: os.stat_result) -> datetime:
    """A stat result's modification time as an aware UTC datetime."""
    return datetime.fromtimestamp(st.st_mtime_ns / 1e9, UTC)


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (best effort where directories cannot be opened)."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def make_temp(directory: Path) -> tuple[Path, BinaryIO]:
    """A new 0600 temporary file in ``directory``, created 0700 with its parents.

    Retries when a concurrent delete prunes the freshly made (still empty) directory.
    """
    for attempt in range(3):
        try:
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)
        except FileNotFoundError:
            if attempt == 2:
                raise
            continue
        except (FileExistsError, NotADirectoryError) as exc:
            raise LakeportError(
                "conflict", "a stored object is in the way of this key's directory"
            ) from exc
        return Path(name), os.fdopen(fd, "wb")
    raise AssertionError("unreachable")


def write_json(path: Path, record: dict[str, Any]) -> None:
    """Replace ``path`` with ``record`` atomically; best effort (callers can recompute)."""
    with contextlib.suppress(OSError, LakeportError):
        tmp, file = make_temp(path.parent)
        with file:
            file.write(json.dumps(record).encode())
        os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object at ``path``, or None when missing or unreadable."""
    try:
        record = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def receive(
    directory: Path, chunks: Iterable[bytes], max_bytes: int | None
) -> tuple[Path, str, os.stat_result]:
    """Stream ``chunks`` into a fsynced temporary file: (path, md5 hex, stat).

    Past ``max_bytes`` the file is removed and ``payload_too_large`` raised.
    """
    tmp, file = make_temp(directory)
    md5, size = md5_hasher(), 0
    try:
        with file:
            for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise LakeportError(
                        "payload_too_large",
                        f"the body is larger than the {max_bytes} bytes allowed here",
                        {"limit_bytes": max_bytes},
                    )
                file.write(chunk)
                md5.update(chunk)
            file.flush()
            os.fsync(file.fileno())
            st = os.fstat(file.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, md5.hexdigest(), st


def hash_file(path: Path) -> tuple[str, os.stat_result]:
    """MD5 hex and stat of one open file, so the two describe the same bytes."""
    with path.open("rb") as file:
        st = os.fstat(file.fileno())
        md5 = md5_hasher()
        while chunk := file.read(CHUNK):
            md5.update(chunk)
    return md5.hexdigest(), st
