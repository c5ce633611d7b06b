"""Downloaded objects kept for the length of one pipeline job.

A job reads its object in several steps (infer, then convert; again after a retype).
Downloading it once per step doubled the requests and bytes for every file, which is
most of a small source file's cost on S3. Inside :func:`keep_local_copies` an object
store's ``fetch_local`` keeps its download and hands the same file to later calls for
the same object, so every step of one job also reads the same bytes even if the
object is overwritten meanwhile. Everything kept is deleted when the block ends
(:mod:`lakeport.job_scope`: the steps need not know which store copies).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lakeport.job_scope import JobScoped


def _remove(path: Path) -> None:
    shutil.rmtree(path.parent, ignore_errors=True)  # the download's own directory


_copies: JobScoped[Path] = JobScoped("lakeport_copies", _remove)

#: Keep downloads made inside the block; delete them (and their directories) at its end.
keep_local_copies = _copies.scope


def kept_copy(identity: tuple[str, ...]) -> Path | None:
    """The kept download of the object ``identity`` names, if one is kept."""
    path = _copies.get(identity)
    return path if path is not None and path.is_file() else None


def keep(identity: tuple[str, ...], path: Path) -> bool:
    """Keep ``path`` (alone in a directory of its own) if a block is keeping copies;
    True means the block now owns it and the caller must not delete it."""
    return _copies.put(identity, path)
