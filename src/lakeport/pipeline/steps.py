"""The four pipeline steps. Each is idempotent: run twice, it ends in the same state.

A step reads what it needs from a detached :class:`StepInput`, does its work outside any
database transaction, and returns a function that records its outcome; the runner calls
that function in the same transaction that marks the step done.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyiceberg.io import load_file_io
from sqlalchemy.orm import Session

from lakeport.db import quota
from lakeport.db import uploads as repo
from lakeport.db.models import Collection, Dataset, Org, Upload
from lakeport.domain.schema import fingerprint
from lakeport.errors import LakeportError, not_found
from lakeport.formats import Inspection, TypesChanged, inspect, read_stages, skips_rows
from lakeport.pipeline import inspection_state
from lakeport.pipeline.adopt import adopt, adoptable
from lakeport.pipeline.append import AppendDecision, conform, decide_append, write_schema
from lakeport.pipeline.context import Apply, StepInput, read_options
from lakeport.pipeline.register import register
from lakeport.pipeline.rejects import RejectSink, rejects_key
from lakeport.pipeline.schema_fields import schema_fields
from lakeport.pipeline.targets import Target, resolve_target
from lakeport.runtime import Runtime
from lakeport.storage import BlobInfo
from lakeport.storage.capabilities import SupportsMultipart
from lakeport.storage.digest import stored_sha256
from lakeport.tables.commit import load_table
from lakeport.tables.staging import StagedFile, write_staged


def combine(rt: Runtime, up: StepInput) -> Apply:
    """Assemble a multipart upload (once) and take the size from storage, never the client.

    The quota reservation made for the declared size settles to the true size here; a file
    that no longer fits fails with ``quota_exceeded`` and its object is deleted.
    """
    info = rt.store_for(up.connection).stat(up.object_key)
    if info is None and up.kind == "multipart":
        info = _complete_multipart(rt, up)
    if info is None:
        raise LakeportError("upload_not_found", "the uploaded object is missing from storage")
    size = info.size_bytes
    if up.kind == "multipart" and up.sha256:
        _check_sha256(rt, up)

    def apply(session: Session, upload: Upload) -> None:
        upload.size_bytes = size
        if upload.reserved_bytes:
            quota.settle(session, upload.org_id, upload.user_id, upload.reserved_bytes, size)
            upload.reserved_bytes, upload.charged_bytes = 0, size

    return apply


def _check_sha256(rt: Runtime, up: StepInput) -> None:
    """A multipart client declares the whole file's SHA-256 (parts carry only MD5
    ETags): the combined object must have it, or the upload fails and is deleted."""
    stored = stored_sha256(rt.store, up.object_key)
    if stored != up.sha256:
        raise LakeportError(
            "upload_mismatch",
            "the combined object's SHA-256 differs from the declared one",
            {"declared_sha256": up.sha256, "stored_sha256": stored},
        )


def _complete_multipart(rt: Runtime, up: StepInput) -> BlobInfo:
    if not isinstance(rt.store, SupportsMultipart) or up.storage_upload_id is None:
        raise LakeportError("invalid_parts", "this upload has no storage multipart session")
    parts = [(int(n), str(etag)) for n, etag in up.plan.get("parts", [])]
    try:
        return rt.store.complete_multipart(up.object_key, up.storage_upload_id, parts)
    except LakeportError as exc:
        if exc.code != "bad_request":
            raise
        raise LakeportError("invalid_parts", exc.message, exc.details) from exc


def infer(rt: Runtime, up: StepInput) -> Apply:
    """Detect the format, read the schema (Parquet: footer only) and choose the target."""
    sample = rt.settings.worker.infer_sample_bytes or None
    with rt.store_for(up.connection).fetch_local(up.object_key) as path:
        found = inspect(path, read_options(up.options), None if up.plan.get("retype") else sample)
    fields = schema_fields(found.schema)
    preview = _preview(found, fields)

    def apply(session: Session, upload: Upload) -> None:
        org = session.get(Org, upload.org_id)
        coll = session.get(Collection, upload.collection_id)
        if org is None or coll is None:
            raise not_found("collection")
        target, existing = resolve_target(session, upload, org, coll, rt.settings.warehouse())
        upload.schema_preview = preview | {"size_bytes": upload.size_bytes}  # set by combine
        plan: dict[str, Any] = {
            "retype_pending": False,
            "inspection": inspection_state.dump(found),
            "target": target.as_plan(),
            "fields": fields,
            "write_schema": None,
            "evolves_table": False,
        }
        if existing is not None:
            plan.update(_plan_append(rt, session, upload, existing, found, fields))
        write = [(f["name"], f["type"]) for f in plan["fields"]]
        plan["fingerprint"] = fingerprint(write)
        repo.set_plan(upload, **plan)

    return apply


def _plan_append(
    rt: Runtime,
    session: Session,
    upload: Upload,
    existing: Dataset,
    found: Inspection,
    fields: list[dict[str, Any]],
) -> dict[str, Any]:
    """Schema policy and duplicate check for an append; the plan entries they decide."""
    if not upload.options.get("force") and upload.sha256:
        earlier = repo.find_registered_duplicate(session, existing.id, upload.sha256, upload.id)
        if earlier is not None:
            return {"duplicate_of": earlier.id, "fields": existing.schema["fields"]}
    table_fields = [(f["name"], f["type"]) for f in existing.schema["fields"]]
    incoming = [(f["name"], f["type"]) for f in fields]
    decision = decide_append(
        table_fields,
        incoming,
        upload.options.get("schema_policy", "strict"),
        approved=bool(upload.plan.get("review_approved")),
    )
    if decision.park:
        return {
            "awaiting_review": True,
            "review_diff": decision.diff,
            "fields": existing.schema["fields"],
        }
    file_types = dict(incoming)
    schema = write_schema(
        decision.write_fields,
        found.schema,
        _table_types(rt, existing, decision, file_types),
        file_types,
    )
    nullable = {f["name"]: f["nullable"] for f in existing.schema["fields"]}
    return {
        "write_schema": inspection_state.dump_schema(schema),
        "evolves_table": decision.evolves_table,
        "fields": [
            {"name": n, "type": t, "nullable": nullable.get(n, True)}
            for n, t in decision.write_fields
        ],
    }


def _table_types(
    rt: Runtime, existing: Dataset, decision: AppendDecision, file_types: dict[str, str]
) -> pa.Schema:
    """The table's Arrow schema where the staged files must take the table's type for a
    column (a file's values cast up into it); an empty schema when the file's types
    serve everywhere, which is the common append of a same-shaped file, and spares
    reading the table's metadata once per file (the dataset row names its columns)."""
    in_table = {f["name"] for f in existing.schema["fields"]}
    if all(file_types.get(n) == kind or n not in in_table for n, kind in decision.write_fields):
        return pa.schema([])
    table = load_table(rt.catalog, [*existing.namespace, existing.table_name])
    if table is None:
        raise LakeportError("catalog_error", "the target dataset's table is missing")
    return table.schema().as_arrow()


def _preview(found: Inspection, fields: list[dict[str, Any]]) -> dict[str, Any]:
    """What a user sees before the rows land (``row_count`` is the rows that will load;
    under ``skip_row`` also how many were left out, e.g. while a schema awaits review)."""
    preview = {
        "format": found.format,
        "columns": [f["name"] for f in fields],
        "original_columns": list(found.original_names),
        "schema_fields": [{"name": f["name"], "type": f["type"]} for f in fields],
        "row_count": found.row_count,
        "num_row_groups": found.num_row_groups,
    }
    if "rows_rejected" in found.details:
        preview["rows_rejected"] = found.details["rows_rejected"]
    return preview


def convert(rt: Runtime, up: StepInput) -> Apply:
    """Stream the file into Parquet files in the target table's data directory.

    Records ``rows_read = rows_loaded + rows_rejected`` (the loaded count is the staged
    rows, which the register step commits), so a partial load is never silent.
    """
    if up.plan.get("duplicate_of"):
        return _nothing_read
    found = inspection_state.load(up.plan["inspection"])
    target = Target.from_plan(up.plan["target"])
    schema = found.schema
    if up.plan.get("write_schema"):
        schema = inspection_state.load_schema(up.plan["write_schema"])
    io = load_file_io(rt.catalog.properties, target.location)
    rejected = 0
    with rt.store_for(up.connection).fetch_local(up.object_key) as path:
        adopted = found.row_count is not None and adoptable(
            path, found, casts_needed=not schema.equals(found.schema)
        )
        if adopted and found.row_count is not None:
            staged = [adopt(io, path, target.location, up.id, found.row_count)]
        else:
            try:
                staged, rejected = _write_rows(rt, up, path, found, schema, target.location)
            except TypesChanged:
                return _retype  # write_staged removed what it had written
    rows = sum(f.rows for f in staged)

    def apply(session: Session, upload: Upload) -> None:
        repo.set_plan(
            upload, staged=[{"path": f.path, "rows": f.rows} for f in staged], adopted_as_is=adopted
        )
        upload.rows_read = rows + rejected
        upload.rows_rejected = rejected
        if upload.schema_preview and upload.schema_preview.get("row_count") is None:
            upload.schema_preview = {**upload.schema_preview, "row_count": rows}

    return apply


def _retype(session: Session, upload: Upload) -> None:
    """The sample's types do not fit the whole file: back to infer, which now types the
    whole file, and plans (drift, review) again with the types the file really has."""
    repo.set_plan(upload, retype=True, retype_pending=True, staged=[])


def _write_rows(
    rt: Runtime, up: StepInput, path: Path, found: Inspection, schema: pa.Schema, location: str
) -> tuple[list[StagedFile], int]:
    """Stage the file's rows; under ``skip_row`` bad rows go to the upload's rejects
    list (in the landing zone, whatever storage the file came from). Returns the staged
    files and how many rows were rejected."""
    io = load_file_io(rt.catalog.properties, location)
    sink = RejectSink(rt.store, rejects_key(up.org_id, up.id)) if skips_rows(found) else None
    raw, finish = read_stages(path, found, read_options(up.options), sink)
    try:
        staged = write_staged(
            io, location, up.id, schema, raw, finish=lambda b: conform(finish(b), schema)
        )
    except BaseException:
        if sink is not None:
            sink.abort()
        raise
    return staged, sink.close() if sink is not None else 0


def _nothing_read(session: Session, upload: Upload) -> None:
    """A duplicate is not read at all: zero rows read, loaded (register) and rejected."""
    upload.rows_read = 0
    upload.rows_rejected = 0


STEP_FUNCTIONS: dict[str, Callable[[Runtime, StepInput], Apply]] = {
    "combine": combine,
    "infer": infer,
    "convert": convert,
    "register": register,
}
