"""Arrow's allocator for lakeport's own processes (``lakeport serve``, ``worker`` and the
other commands), chosen before pyarrow is imported, which is when Arrow reads the choice.

jemalloc unless ``ARROW_DEFAULT_MEMORY_POOL`` says otherwise. pyarrow's default,
mimalloc, asks the kernel for transparent huge pages, and in a fresh worker process the
first few hundred MB of batches then cost 0.06 to 0.8 s of system time (zeroing and
compacting pages; it varied that much run to run on the same 250 MB file), a quarter of
the convert; jemalloc's cost was a steady 0.12 to 0.18 s, and peak RSS was lower
(``bench/convert.py``; docs/operations.md, "Memory allocator"). Importing ``lakeport`` as
a library (the Python client) changes nothing: a process that is not lakeport's keeps
its own choice.
"""

from __future__ import annotations

import os

POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"
DEFAULT_POOL = "jemalloc"


def allocator_environment() -> dict[str, str]:
    """The variable lakeport's processes run with (for a process lakeport starts)."""
    return {POOL_VARIABLE: os.environ.get(POOL_VARIABLE, DEFAULT_POOL)}


def choose_arrow_allocator() -> None:
    """Ask for jemalloc unless the operator chose; effective before pyarrow's import."""
    os.environ.setdefault(POOL_VARIABLE, DEFAULT_POOL)
