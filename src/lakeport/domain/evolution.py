"""Schema evolution on append (``schema_policy: evolve``): what may change, and how.

Rules, in Iceberg's own terms (format v2 type promotions):

* a column the file adds is added to the table (nullable);
* a file column narrower than the table's is cast up while writing
  (int → long/double, long → double, float → double, date → timestamp/timestamptz);
* a table column narrower than the file's is promoted in the table where Iceberg allows
  it (int → long, float → double); the data is then written with the wider type;
* anything else (a column missing from the file, long in the table but double in the
  file, string ↔ number …) is drift and fails, leaving the table untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lakeport.domain.drift import diff

Field = tuple[str, str]

#: (file type, table type): the file's values are cast to the table's type.
CAST_INTO_TABLE = frozenset(
    {
        ("int", "long"),
        ("int", "double"),
        ("long", "double"),
        ("float", "double"),
        ("date", "timestamp"),
        ("date", "timestamptz"),
    }
)
#: (table type, file type): the table column is promoted to the file's type.
PROMOTE_TABLE = frozenset({("int", "long"), ("float", "double")})


@dataclass(frozen=True)
class Evolution:
    """The schema to write, and what it changes in the table."""

    fields: list[Field]
    added: list[Field] = field(default_factory=list)
    promoted: list[Field] = field(default_factory=list)

    @property
    def changes_table(self) -> bool:
        return bool(self.added or self.promoted)


class EvolutionRefused(Exception):
    """The difference cannot be evolved; ``reasons`` says why, column by column."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def plan_evolution(existing: list[Field], incoming: list[Field]) -> Evolution:
    """The merged schema for appending ``incoming`` to a table of ``existing``."""
    d = diff(existing, incoming)
    reasons = [f"column {c['name']!r} is missing from the file" for c in d["removed"]]
    file_types = dict(incoming)
    result: list[Field] = []
    promoted: list[Field] = []
    for name, table_type in existing:
        file_type = file_types.get(name, table_type)
        if file_type == table_type or (file_type, table_type) in CAST_INTO_TABLE:
            result.append((name, table_type))
        elif (table_type, file_type) in PROMOTE_TABLE:
            result.append((name, file_type))
            promoted.append((name, file_type))
        else:
            reasons.append(f"column {name!r} cannot change from {table_type} to {file_type}")
    if reasons:
        raise EvolutionRefused(reasons)
    added = [(c["name"], c["type"]) for c in d["added"]]
    return Evolution(fields=result + added, added=added, promoted=promoted)
