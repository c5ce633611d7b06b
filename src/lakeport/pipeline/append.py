"""Appending to an existing dataset: the schema policy, and the schema the data is written in.

``strict`` refuses any difference; ``evolve`` applies :mod:`lakeport.domain.evolution`;
``review`` parks the upload with the diff until an editor approves (then it continues as
``evolve``) or rejects. Duplicate content (same SHA-256 into the same dataset) is found
here too, so a re-sent file does nothing unless ``force`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from lakeport.domain import drift
from lakeport.domain.evolution import EvolutionRefused, plan_evolution
from lakeport.errors import LakeportError
from lakeport.formats.base import Tabular

Field = tuple[str, str]


@dataclass(frozen=True)
class AppendDecision:
    """``write_fields`` is the schema to write in; ``park`` means wait for a review."""

    write_fields: list[Field]
    evolves_table: bool
    park: bool
    diff: dict[str, Any]


def decide_append(
    table_fields: list[Field], incoming: list[Field], policy: str, approved: bool
) -> AppendDecision:
    """Apply the schema policy to an append; raises ``schema_drift`` when refused."""
    d = drift.diff(table_fields, incoming)
    if drift.is_empty(d):
        return AppendDecision(list(table_fields), evolves_table=False, park=False, diff=d)
    if policy == "strict":
        raise _drift(d, "the file's columns differ from the dataset (schema_policy=strict)")
    if policy == "review" and not approved:
        return AppendDecision([], evolves_table=False, park=True, diff=d)
    try:
        evolution = plan_evolution(table_fields, incoming)
    except EvolutionRefused as refused:
        raise _drift(
            d, "the schema change is not a safe evolution: " + "; ".join(refused.reasons)
        ) from refused
    return AppendDecision(evolution.fields, evolution.changes_table, park=False, diff=d)


def _drift(d: dict[str, Any], message: str) -> LakeportError:
    return LakeportError(
        "schema_drift",
        message + "; fix the file, upload it as a new dataset, or use schema_policy=evolve",
        {"diff": d},
    )


def write_schema(
    write_fields: list[Field],
    file_schema: pa.Schema,
    table_schema: pa.Schema,
    file_types: dict[str, str],
) -> pa.Schema:
    """The Arrow schema staged files are written in: the file's type where it won,
    the table's where the file's values are cast up into it."""
    out = []
    for name, type_name in write_fields:
        if file_types.get(name) == type_name or name not in table_schema.names:
            out.append(pa.field(name, file_schema.field(name).type, nullable=True))
        else:
            out.append(pa.field(name, table_schema.field(name).type, nullable=True))
    return pa.schema(out)


def conform(data: Tabular, schema: pa.Schema) -> Tabular:
    """``data`` (a batch or a row group) reordered and cast (safely) to ``schema``."""
    if data.schema.equals(schema):
        return data
    arrays = [data.column(f.name).cast(f.type, safe=True) for f in schema]
    return type(data).from_arrays(arrays, schema=schema)
