"""lakeport: data files of any size into Apache Iceberg tables, exactly once.

Importing the package chooses Arrow's memory allocator (before pyarrow is imported,
which is when Arrow reads the choice): jemalloc unless ``ARROW_DEFAULT_MEMORY_POOL``
says otherwise. pyarrow's default, mimalloc, asks the kernel for transparent huge
pages, and in a fresh worker process the first gigabyte of batches then costs 0.1 to
0.8 s of system time (zeroing and compacting pages; it varied that much run to run on
the same file), a quarter of a 250 MB convert; jemalloc's cost was 0.05 to 0.15 s,
steadily (``bench/convert.py``; docs/operations.md, "Memory allocator").
"""

import os

os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "jemalloc")

__version__ = "0.1.0"
