"""Schema rules that do not depend on any file format: column naming and fingerprints.

Columns are handled as ``(name, type)`` pairs whose type is an Iceberg-style type name
(``"long"``, ``"decimal(10,2)"``, ``"list<string>"``, ``"struct<a: int>"`` ...). The
mapping from Arrow types to these names lives in :mod:`lakeport.formats.types`, because
it needs pyarrow; this module stays pure so the rules can be tested and reused anywhere.

Why these rules:

* Safe names (``[a-z0-9_]``, no leading digit) work unquoted in every engine that reads
  the tables (DuckDB, Spark, Trino, Athena, Snowflake), whatever the user's header says.
* Collisions get stable positional suffixes (``_2``, ``_3`` ...) so the same header always
  yields the same names, and a fingerprint computed twice over the same file agrees.
* The fingerprint ignores nullability: a column that happens to have no nulls in one file
  is not a different schema.
"""

from __future__ import annotations

import hashlib
import re

Field = tuple[str, str]

#: The primitive Iceberg type names a fingerprint may contain.
PRIMITIVE_TYPES: frozenset[str] = frozenset(
    {
        "boolean",
        "int",
        "long",
        "float",
        "double",
        "date",
        "time",
        "timestamp",
        "timestamptz",
        "string",
        "binary",
        "uuid",
    }
)

_UNSAFE = re.compile(r"[^a-z0-9_]")
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")


def safe_column_name(name: str, position: int) -> str:
    """One header cell as a safe identifier; ``position`` is 1-based (used for blanks)."""
    trimmed = name.strip()
    if not trimmed:
        return f"column_{position}"
    safe = _UNSAFE.sub("_", trimmed.lower())
    if safe[0].isdigit():
        safe = "_" + safe
    return safe


def safe_column_names(names: list[str]) -> list[str]:
    """Safe, unique names for a header, in the same order.

    Trim; blank -> ``column_<n>`` (1-based position); characters outside ``[A-Za-z0-9_]``
    -> ``_``; lower-case; a leading digit gets a ``_`` prefix; a name already taken gets
    the first free suffix ``_2``, ``_3`` ... Earlier columns keep the plain name, so adding
    a column at the end never renames an existing one.
    """
    taken: set[str] = set()
    out: list[str] = []
    for position, name in enumerate(names, start=1):
        base = safe_column_name(name, position)
        candidate = base
        suffix = 2
        while candidate in taken:
            candidate = f"{base}_{suffix}"
            suffix += 1
        taken.add(candidate)
        out.append(candidate)
    return out


def fingerprint(fields: list[Field]) -> str:
    """``sha256:<hex>`` over the ``(name, type)`` pairs, order-sensitive.

    Name and type are joined by ``0x1F`` (unit separator) and pairs by ``0x1E`` (record
    separator): neither can occur in a safe name or a type name, so no two different
    schemas share an encoding.
    """
    payload = b"\x1e".join(
        name.encode("utf-8") + b"\x1f" + type_name.encode("utf-8") for name, type_name in fields
    )
    return "sha256:" + hashlib.sha256(payload).hexdigest()


def decimal_type(precision: int, scale: int) -> str:
    """The Iceberg name of a decimal type (no spaces, as Iceberg prints it)."""
    return f"decimal({precision},{scale})"


def list_type(element: str) -> str:
    """The Iceberg-style name of a list type."""
    return f"list<{element}>"


def map_type(key: str, value: str) -> str:
    """The Iceberg-style name of a map type."""
    return f"map<{key}, {value}>"


def struct_type(fields: list[Field]) -> str:
    """The Iceberg-style name of a struct type."""
    return "struct<" + ", ".join(f"{name}: {type_name}" for name, type_name in fields) + ">"


def is_primitive(type_name: str) -> bool:
    """Whether ``type_name`` is a primitive Iceberg type (decimals included)."""
    return type_name in PRIMITIVE_TYPES or _DECIMAL.match(type_name) is not None
