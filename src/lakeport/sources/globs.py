"""Glob patterns over object keys: ``**`` spans directories, ``*`` and ``?`` do not.

S3 has no directories and ``fnmatch`` lets ``*`` cross ``/``, so the pattern is compiled
to a regular expression once per run and matched against each key below the prefix
while the listing streams.
"""

from __future__ import annotations

import re


def compile_glob(pattern: str) -> re.Pattern[str]:
    """``**/*.csv`` → a regex matching ``a.csv``, ``x/y/a.csv`` but not ``a.csvx``."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)
