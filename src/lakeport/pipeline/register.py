"""The register step: one Iceberg commit and the dataset row, made together.

Runs inside the runner's final transaction, under a PostgreSQL advisory lock on the
collection, so two uploads creating datasets in one collection never pick the same name.
The Iceberg commit is exactly-once by its snapshot marker (``tables.commit``); if the
process dies after the commit, the database transaction rolls back and the retry finds
the marker, adopts the table and records the dataset.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pyarrow as pa
from pyiceberg.io import load_file_io
from pyiceberg.table import Table
from sqlalchemy.orm import Session

from lakeport.db import uploads as repo
from lakeport.db.locks import lock_collection
from lakeport.db.models import Dataset, Upload, utcnow
from lakeport.errors import LakeportError
from lakeport.pipeline import inspection_state
from lakeport.pipeline.cleanup import give_back_quota
from lakeport.pipeline.context import Apply, StepInput
from lakeport.pipeline.group_request import joins_group, request_group_commit
from lakeport.pipeline.targets import Target, unique_name
from lakeport.runtime import Runtime
from lakeport.tables.commit import (
    commit_files,
    create_with_files,
    ensure_table,
    load_table,
    table_stats,
)
from lakeport.tables.staging import delete_staged


def register(rt: Runtime, up: StepInput) -> Apply:
    """Return the transactional commit of the staged files into the target table."""

    def apply(session: Session, upload: Upload) -> None:
        if upload.plan.get("duplicate_of"):
            upload.dataset_id = upload.plan["target"]["dataset_id"]
            upload.rows_loaded = 0
            upload.status = "registered"
            give_back_quota(session, upload)
            return
        if upload.options.get("dry_run"):
            _finish_dry_run(rt, upload)
            give_back_quota(session, upload)
            return
        target = Target.from_plan(upload.plan["target"])
        if joins_group(upload, target.mode):
            request_group_commit(upload, target.dataset_id)
            return
        lock_collection(session, upload.collection_id)
        table_missing = False
        if target.mode == "create":
            target, table_missing = _free_name(rt, session, target, upload.collection_id)
        elif session.get(Dataset, target.dataset_id) is None:
            raise LakeportError("not_found", "the target dataset was deleted during the upload")
        table = _commit(rt, upload, target, table_missing)
        rows, size = table_stats(table)
        _record_dataset(session, upload, target, rows, size)
        upload.dataset_id = target.dataset_id
        upload.rows_loaded = sum(int(f["rows"]) for f in upload.plan.get("staged", []))
        upload.status = "registered"
        keep = rt.settings.uploads.keep_registered_days
        upload.expires_at = utcnow() + timedelta(days=keep)
        repo.set_plan(upload, target=target.as_plan())

    return apply


def _commit(rt: Runtime, upload: Upload, target: Target, table_missing: bool) -> Table:
    """The staged files committed to the target table, exactly once; a missing table
    is created holding them, in one commit."""
    schema = _write_schema(upload)
    identifier = tuple(target.identifier)
    paths = [f["path"] for f in upload.plan.get("staged", [])]
    if table_missing:
        created = create_with_files(
            rt.catalog, identifier, schema, target.location, upload.id, paths
        )
        if created is not None:
            return created
    table = ensure_table(rt.catalog, identifier, schema, target.location)
    commit_files(
        table,
        upload.id,
        paths,
        evolve_to=schema if upload.plan.get("evolves_table") else None,
        replaces=list(upload.plan.get("replaces", [])),
    )
    return table


def _write_schema(upload: Upload) -> pa.Schema:
    if upload.plan.get("write_schema"):
        return inspection_state.load_schema(upload.plan["write_schema"])
    return inspection_state.load(upload.plan["inspection"]).schema


def _finish_dry_run(rt: Runtime, upload: Upload) -> None:
    """A dry run stops before the commit: its staged files are removed, nothing changes."""
    target = Target.from_plan(upload.plan["target"])
    staged = [f["path"] for f in upload.plan.get("staged", [])]
    delete_staged(load_file_io(rt.catalog.properties, target.location), staged)
    upload.rows_loaded = 0
    upload.status = "validated"


def _free_name(
    rt: Runtime, session: Session, target: Target, collection_id: str
) -> tuple[Target, bool]:
    """Keep the planned name unless another dataset or foreign table took it meanwhile;
    also whether that name's table is still to be created (it was looked up anyway)."""
    taken = repo.dataset_names(session, collection_id)
    name = target.dataset_name
    while True:
        identifier = [*target.identifier[:-1], name]
        existing_row = repo.get_dataset_by_name(session, collection_id, name)
        table = load_table(rt.catalog, identifier)
        row_is_other = existing_row is not None and existing_row.id != target.dataset_id
        table_is_other = table is not None and table.location() != target.location
        if not row_is_other and not table_is_other:
            return replace(target, dataset_name=name, identifier=identifier), table is None
        taken.add(name)
        name = unique_name(target.dataset_name, taken)


def _record_dataset(session: Session, upload: Upload, target: Target, rows: int, size: int) -> None:
    dataset = session.get(Dataset, target.dataset_id)
    if dataset is None:
        dataset = Dataset(
            id=target.dataset_id,
            org_id=upload.org_id,
            collection_id=upload.collection_id,
            name=target.dataset_name,
            namespace=target.identifier[:-1],
            table_name=target.identifier[-1],
            location=target.location,
            schema={"fields": upload.plan["fields"], "fingerprint": upload.plan["fingerprint"]},
            column_mapping=[
                {"original": o, "name": f["name"]}
                for o, f in zip(
                    upload.plan["inspection"]["original_names"],
                    upload.plan["fields"],
                    strict=False,
                )
            ],
        )
        session.add(dataset)
    if upload.plan.get("evolves_table"):
        dataset.schema = {
            "fields": upload.plan["fields"],
            "fingerprint": upload.plan["fingerprint"],
        }
    dataset.row_count = rows
    dataset.size_bytes = size
    dataset.updated_at = utcnow()
    session.flush()
