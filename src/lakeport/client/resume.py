"""The resume state file: what a killed multipart upload needs to continue.

One small JSON file per (server, collection, file) under ``$XDG_CACHE_HOME/lakeport/uploads``
(``~/.cache/lakeport/uploads`` by default), not next to the data file: the data may sit
in a read-only or shared directory, and a cache directory is where a user expects
leftovers they may delete. The file holds the session id and the file's identity (size
and mtime in nanoseconds): a resume is refused when either changed, because parts from
two versions of a file would combine into an object that is neither. It also caches the
file's SHA-256 so a resume does not read the whole file again to declare it.

Writes are atomic (temp file + rename), so a kill during a write leaves the old state or
the new one, never half of each. Nothing in it is secret, but it is created 0600 anyway:
it names the user's files.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lakeport.client.errors import FileChangedError

STATE_VERSION = 1


@dataclass(frozen=True)
class FileIdentity:
    """What "the same file" means for a resume: same path, size and mtime."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> FileIdentity:
        resolved = path.resolve()
        st = resolved.stat()
        return cls(str(resolved), st.st_size, st.st_mtime_ns)


@dataclass
class ResumeState:
    """An open multipart session for one file, as the client last saw it."""

    upload_id: str
    base_url: str
    collection_id: str
    path: str
    size: int
    mtime_ns: int
    part_size: int
    part_count: int
    options: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None
    version: int = STATE_VERSION

    def check_file(self, now: FileIdentity) -> None:
        """Refuse to resume onto a file that changed since the parts were sent."""
        if (now.size, now.mtime_ns) != (self.size, self.mtime_ns):
            raise FileChangedError(
                "file_changed",
                f"{now.path} changed since upload {self.upload_id} started (size or "
                "modification time differ); run the upload again without --resume to "
                "start over",
            )


def default_state_dir() -> Path:
    """``$XDG_CACHE_HOME/lakeport/uploads``, else ``~/.cache/lakeport/uploads``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lakeport" / "uploads"


class StateStore:
    """Resume states in one directory, keyed by server, collection and file path."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or default_state_dir()

    def path_for(self, base_url: str, collection_id: str, file_path: str) -> Path:
        key = json.dumps([base_url.rstrip("/"), collection_id, file_path])
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.json"

    def load(self, base_url: str, collection_id: str, file_path: str) -> ResumeState | None:
        """The saved state, or None when there is none (or it is unreadable: start over)."""
        try:
            raw = json.loads(self.path_for(base_url, collection_id, file_path).read_text())
            state = ResumeState(**raw)
        except (OSError, ValueError, TypeError):
            return None
        return state if state.version == STATE_VERSION else None

    def save(self, state: ResumeState) -> None:
        target = self.path_for(state.base_url, state.collection_id, state.path)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as handle:
                json.dump(asdict(state), handle)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def clear(self, base_url: str, collection_id: str, file_path: str) -> None:
        self.path_for(base_url, collection_id, file_path).unlink(missing_ok=True)
