"""The type of every JSON field, widened over the whole file, never dropped.

Each field has a :class:`Node` whose kind only ever widens as records are observed:

* ``null`` < anything; ``int`` < ``bigint`` (beyond int64: ``decimal(38,0)``) < ``float``
  (integers beyond 38 digits are kept as JSON text);
* ``list`` merges its element types, ``struct`` merges its fields (union, first-seen
  order; a field missing from a record is null);
* any other disagreement (number vs string, object vs string, bool vs number ...) makes
  the field ``json``: stored as a string, strings as they are and everything else as
  its compact JSON text. No value is ever dropped or coerced silently to null.

Nesting deeper than :data:`MAX_DEPTH` is kept as JSON text, as is an object with no keys
(Iceberg has no empty struct). Nested field names are kept, except that names equal up
to case get ``_2``, ``_3`` suffixes, since several engines match struct fields without
regard to case. The tree is saved in the inspection (:meth:`Node.dump`) so the second
pass converts values exactly as the first pass typed them.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pyarrow as pa

MAX_DEPTH = 32
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DECIMAL = 10**38 - 1
_NUMERIC = ("int", "bigint", "float", "float_big")


def kind_of(value: Any) -> str:
    """The lattice kind of one Python value decoded from JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return "int"
        return "bigint" if -MAX_DECIMAL <= value <= MAX_DECIMAL else "json"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "struct" if isinstance(value, dict) else "json"


def _join(a: str, b: str) -> str:
    if a == b or b == "null":
        return a
    if a == "null":
        return b
    if a in _NUMERIC and b in _NUMERIC:
        if {a, b} == {"bigint", "float"} or "float_big" in (a, b):
            return "float_big"  # floats that must be converted one by one
        return max(a, b, key=_NUMERIC.index)
    return "json"


class Node:
    """The widened type of one field (see the module docstring)."""

    __slots__ = ("depth", "element", "fields", "fix", "kind", "names")

    def __init__(self, depth: int = 0) -> None:
        self.kind = "null"
        self.depth = depth
        self.element: Node | None = None
        self.fields: dict[str, Node] = {}
        self.fix: bool | None = None
        self.names: list[str] = []

    def observe(self, value: Any) -> None:
        """Widen this node so that it holds ``value``."""
        if self.kind == "json":
            return
        kind = kind_of(value)
        if kind in ("list", "struct") and self.depth >= MAX_DEPTH:
            kind = "json"
        self.kind = _join(self.kind, kind)
        if self.kind == "list" and kind == "list":
            self._observe_list(value)
        elif self.kind == "struct" and kind == "struct":
            self.observe_fields(value)

    def _observe_list(self, values: list[Any]) -> None:
        if self.element is None:
            self.element = Node(self.depth + 1)
        for item in values:
            self.element.observe(item)

    def observe_fields(self, record: dict[str, Any]) -> None:
        """Widen each field of a struct (or of the top-level record) with ``record``."""
        fields = self.fields
        for key, value in record.items():
            node = fields.get(key)
            if node is None:
                node = fields[key] = Node(self.depth + 1)
            node.observe(value)

    def arrow_type(self) -> pa.DataType:
        """The Arrow type values of this node are stored as."""
        kind = self.storage_kind()
        if kind == "list":
            assert self.element is not None
            return pa.list_(self.element.arrow_type())
        if kind == "struct":
            names = nested_names(list(self.fields))
            types = [node.arrow_type() for node in self.fields.values()]
            return pa.struct([pa.field(n, t) for n, t in zip(names, types, strict=True)])
        return _SCALARS[kind]

    def storage_kind(self) -> str:
        """The kind after the storage rules (empty struct -> json, null -> string)."""
        if self.kind == "struct" and not self.fields:
            return "json"
        if self.kind == "list" and self.element is None:
            return "list_null"
        return self.kind

    def dump(self) -> dict[str, Any]:
        """A JSON-safe copy of the tree, for the inspection."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.element is not None:
            out["element"] = self.element.dump()
        if self.fields:
            out["fields"] = [[key, node.dump()] for key, node in self.fields.items()]
        return out

    @classmethod
    def load(cls, data: dict[str, Any], depth: int = 0) -> Node:
        """The tree :meth:`dump` saved."""
        node = cls(depth)
        node.kind = data["kind"]
        if "element" in data:
            node.element = cls.load(data["element"], depth + 1)
        for key, child in data.get("fields", []):
            node.fields[key] = cls.load(child, depth + 1)
        return node


_SCALARS: dict[str, pa.DataType] = {
    "null": pa.string(),
    "bool": pa.bool_(),
    "int": pa.int64(),
    "bigint": pa.decimal128(38, 0),
    "float": pa.float64(),
    "float_big": pa.float64(),
    "string": pa.string(),
    "json": pa.string(),
    "list_null": pa.list_(pa.string()),
}


def nested_names(keys: list[str]) -> list[str]:
    """Struct field names: blank -> ``field_<n>``; equal-up-to-case -> ``_2``, ``_3``."""
    taken: set[str] = set()
    out: list[str] = []
    for position, key in enumerate(keys, start=1):
        base = key if key.strip() else f"field_{position}"
        name, suffix = base, 2
        while name.lower() in taken:
            name, suffix = f"{base}_{suffix}", suffix + 1
        taken.add(name.lower())
        out.append(name)
    return out


def to_json_text(value: Any) -> str | None:
    """A value of a ``json`` field as stored: strings as-is, the rest as JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def freeze(node: Node) -> Node:
    """Precompute, once the tree no longer changes, what :func:`convert` needs."""
    for child in node.fields.values():
        freeze(child)
    if node.element is not None:
        freeze(node.element)
    node.names = nested_names(list(node.fields))
    node.fix = _needs_conversion(node)
    return node


def _needs_conversion(node: Node) -> bool:
    kind = node.storage_kind()
    if kind in ("json", "bigint", "list_null", "float_big"):
        return True
    if kind == "list":
        return node.element is not None and bool(node.element.fix)
    if kind == "struct":
        renamed = node.names != list(node.fields)
        return renamed or any(child.fix for child in node.fields.values())
    return False


def convert(node: Node, value: Any) -> Any:
    """``value`` rewritten so ``pa.array(..., node.arrow_type())`` accepts it; the node
    must be :func:`freeze`-d."""
    if value is None or not node.fix:
        return value
    kind = node.storage_kind()
    if kind == "json":
        return to_json_text(value)
    if kind == "bigint":
        return Decimal(value)
    if kind == "float_big":
        return float(value)
    if kind == "list_null":
        return [None] * len(value)
    if kind == "list":
        assert node.element is not None
        element = node.element
        return [convert(element, item) for item in value]
    return {
        name: convert(child, value.get(key))
        for name, (key, child) in zip(node.names, node.fields.items(), strict=True)
    }
