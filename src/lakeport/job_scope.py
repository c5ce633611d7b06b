"""Values one pipeline job keeps between its steps, released when the job ends.

The steps of a job meet only through the database, yet some things are worth handing
from one step to the next in the same process: an object's download
(:mod:`lakeport.storage.local_copies`), a typing sample's parsed text
(:mod:`lakeport.formats.carry_over`). A :class:`JobScoped` store is a context variable
holding a dict for the length of a ``with store.scope():`` block (``run_upload`` opens
them); outside a block nothing is kept, so a caller that is not a job still works, only
without the hand-over. Context-local, so concurrent jobs on other threads never see each
other's values.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Generic, TypeVar

V = TypeVar("V")


class JobScoped(Generic[V]):
    """A per-job dict of values; ``release`` frees one (at the block's end, or when a
    value is replaced)."""

    def __init__(self, name: str, release: Callable[[V], None]) -> None:
        self._values: ContextVar[dict[Hashable, V] | None] = ContextVar(name, default=None)
        self._release = release

    @contextmanager
    def scope(self) -> Iterator[None]:
        """Keep values put inside the block; release each one at its end."""
        values: dict[Hashable, V] = {}
        token = self._values.set(values)
        try:
            yield
        finally:
            self._values.reset(token)
            for value in values.values():
                self._release(value)

    def active(self) -> bool:
        """Whether a block is open (a value put now would be kept)."""
        return self._values.get() is not None

    def get(self, key: Hashable) -> V | None:
        values = self._values.get()
        return values.get(key) if values is not None else None

    def pop(self, key: Hashable) -> V | None:
        values = self._values.get()
        return values.pop(key, None) if values is not None else None

    def put(self, key: Hashable, value: V) -> bool:
        """Keep ``value`` (releasing one it replaces); False, and nothing kept, outside a
        block: the caller still owns it."""
        values = self._values.get()
        if values is None:
            return False
        previous = values.get(key)
        values[key] = value
        if previous is not None and previous is not value:
            self._release(previous)
        return True
