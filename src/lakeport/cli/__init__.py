"""The ``lakeport`` command line (Typer).

Its processes (``serve``, ``worker`` ...) allocate Arrow memory with jemalloc
(:mod:`lakeport.memory`), chosen here, before any command module imports pyarrow.
"""

from lakeport.memory import choose_arrow_allocator

choose_arrow_allocator()
