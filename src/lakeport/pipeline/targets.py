"""Deciding where an upload's rows go: a new dataset, or an append to an existing one.

The decision is made once, in the infer step, and persisted in the upload's plan, so
convert can write straight into the target table's data directory and register only
has to commit. Names are made identifier-safe and de-duplicated inside the collection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from sqlalchemy.orm import Session

from lakeport.db import uploads as repo
from lakeport.db.models import Collection, Dataset, Org, Upload, new_id
from lakeport.errors import not_found

_UNSAFE = re.compile(r"[^a-z0-9_]+")
MAX_NAME = 100


def safe_identifier(raw: str, fallback: str = "dataset") -> str:
    """Lower-case, ``[a-z0-9_]`` only, not starting with a digit, never empty."""
    name = _UNSAFE.sub("_", raw.strip().lower()).strip("_")[:MAX_NAME]
    if not name:
        name = fallback
    if name[0].isdigit():
        name = f"_{name}"
    return name


_KNOWN_EXTENSIONS = (
    ".gz",
    ".zst",
    ".csv",
    ".tsv",
    ".txt",
    ".json",
    ".ndjson",
    ".jsonl",
    ".parquet",
    ".xlsx",
)


def name_from_filename(filename: str) -> str:
    """``Sales Report.csv.gz`` → ``sales_report``: the base name without known extensions."""
    base = PurePosixPath(filename.replace("\\", "/")).name
    stripped = True
    while stripped:
        stripped = False
        for ext in _KNOWN_EXTENSIONS:
            if base.lower().endswith(ext) and len(base) > len(ext):
                base, stripped = base[: -len(ext)], True
    return safe_identifier(base)


def unique_name(wanted: str, taken: set[str]) -> str:
    """``wanted``, or ``wanted_2``, ``wanted_3`` … whichever is free first."""
    if wanted not in taken:
        return wanted
    n = 2
    while f"{wanted}_{n}" in taken:
        n += 1
    return f"{wanted}_{n}"


@dataclass(frozen=True)
class Target:
    """The table an upload writes to (persisted as ``plan["target"]``)."""

    mode: str  # "create" | "append"
    dataset_id: str
    dataset_name: str
    identifier: list[str]
    location: str

    def as_plan(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "dataset_id": self.dataset_id,
            "dataset_name": self.dataset_name,
            "identifier": self.identifier,
            "location": self.location,
        }

    @classmethod
    def from_plan(cls, data: dict[str, Any]) -> Target:
        return cls(**data)


def resolve_target(
    session: Session, upload: Upload, org: Org, coll: Collection, warehouse: str
) -> tuple[Target, Dataset | None]:
    """The dataset this upload appends to (by ID or name), or a new one to create."""
    existing = _existing_dataset(session, upload, coll)
    if existing is not None:
        target = Target(
            "append",
            existing.id,
            existing.name,
            [*existing.namespace, existing.table_name],
            existing.location,
        )
        return target, existing
    wanted = upload.options.get("dataset_name") or name_from_filename(upload.filename)
    name = unique_name(safe_identifier(wanted), repo.dataset_names(session, coll.id))
    dataset_id = new_id()
    namespace = [safe_identifier(org.name, "org"), coll.slug]
    location = f"{warehouse.rstrip('/')}/{'/'.join(namespace)}/{name}-{dataset_id[:8]}"
    return Target("create", dataset_id, name, [*namespace, name], location), None


def _existing_dataset(session: Session, upload: Upload, coll: Collection) -> Dataset | None:
    target_id = upload.options.get("target_dataset_id")
    if target_id:
        dataset = repo.get_dataset(session, upload.org_id, target_id)
        if dataset is None or dataset.collection_id != coll.id:
            raise not_found("target dataset")
        return dataset
    name = upload.options.get("dataset_name")
    if name:
        return repo.get_dataset_by_name(session, coll.id, safe_identifier(name))
    return None
