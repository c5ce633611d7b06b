"""Downloaded objects kept for the length of one pipeline job.

A job reads its object in several steps (infer, then convert; again after a retype).
Downloading it once per step doubled the requests and bytes for every file, which is
most of a small source file's cost on S3. Inside :func:`keep_local_copies` an object
store's ``fetch_local`` keeps its download and hands the same file to later calls for
the same object, so every step of one job also reads the same bytes even if the
object is overwritten meanwhile. Everything kept is deleted when the block ends. A
context variable, not a parameter: the steps need not know which store copies.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

_kept: ContextVar[dict[tuple[str, ...], Path] | None] = ContextVar("lakeport_copies", default=None)


@contextmanager
def keep_local_copies() -> Iterator[None]:
    """Keep downloads made inside the block; delete them (and their directories) at
    its end."""
    copies: dict[tuple[str, ...], Path] = {}
    token = _kept.set(copies)
    try:
        yield
    finally:
        _kept.reset(token)
        for path in copies.values():
            shutil.rmtree(path.parent, ignore_errors=True)


def kept_copy(identity: tuple[str, ...]) -> Path | None:
    """The kept download of the object ``identity`` names, if one is kept."""
    copies = _kept.get()
    path = copies.get(identity) if copies is not None else None
    return path if path is not None and path.is_file() else None


def keep(identity: tuple[str, ...], path: Path) -> bool:
    """Keep ``path`` (alone in a directory of its own) if a block is keeping copies;
    True means the block now owns it and the caller must not delete it."""
    copies = _kept.get()
    if copies is None:
        return False
    copies[identity] = path
    return True
