"""Schema comparison for appends: the structured diff a user sees on drift.

Fields are (name, type) pairs using Iceberg type names; nullability is deliberately
ignored, as in the fingerprint, since a column that happens to have no nulls in one
file is not a different schema.
"""

from __future__ import annotations

from typing import Any

Field = tuple[str, str]


def diff(existing: list[Field], incoming: list[Field]) -> dict[str, list[dict[str, Any]]]:
    """``{added, removed, changed}`` going from ``existing`` to ``incoming``."""
    old = dict(existing)
    new = dict(incoming)
    return {
        "added": [{"name": n, "type": t} for n, t in incoming if n not in old],
        "removed": [{"name": n, "type": t} for n, t in existing if n not in new],
        "changed": [
            {"name": n, "from": old[n], "to": t} for n, t in incoming if n in old and old[n] != t
        ],
    }


def is_empty(d: dict[str, list[dict[str, Any]]]) -> bool:
    """True when a diff records no difference at all."""
    return not (d["added"] or d["removed"] or d["changed"])
