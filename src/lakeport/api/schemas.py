"""Response and request models, split by direction.

Internal fields (object keys, plans, token hashes) live on the database rows only; these
models name exactly what leaves the service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from lakeport.db.models import Collection, Dataset, Upload


class CollectionIn(BaseModel):
    name: str = Field(min_length=1, max_length=128)
    description: str | None = Field(default=None, max_length=4000)


class CollectionOut(BaseModel):
    id: str
    name: str
    description: str | None
    created_at: datetime

    @classmethod
    def of(cls, c: Collection) -> CollectionOut:
        return cls(id=c.id, name=c.name, description=c.description, created_at=c.created_at)


class TableRef(BaseModel):
    namespace: str
    name: str


class UploadOut(BaseModel):
    id: str
    collection_id: str
    kind: str
    filename: str
    size_bytes: int | None
    sha256: str | None
    status: str
    completion_status: str | None
    completion_steps_log: list[dict[str, Any]]
    failure_reason: dict[str, Any] | None
    dataset_id: str | None
    table: TableRef | None
    schema_preview: dict[str, Any] | None
    rows_read: int | None
    rows_loaded: int | None
    rows_rejected: int | None
    duplicate_of: str | None
    options: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, u: Upload) -> UploadOut:
        target = u.plan.get("target")
        table = None
        if target and u.completion_status == "registered":
            table = TableRef(
                namespace=".".join(target["identifier"][:-1]), name=target["identifier"][-1]
            )
        return cls(
            id=u.id,
            collection_id=u.collection_id,
            kind=u.kind,
            filename=u.filename,
            size_bytes=u.size_bytes,
            sha256=u.sha256,
            status=u.status,
            completion_status=u.completion_status,
            completion_steps_log=u.completion_steps_log,
            failure_reason=u.failure_reason,
            dataset_id=u.dataset_id,
            table=table,
            schema_preview=u.schema_preview,
            rows_read=u.rows_read,
            rows_loaded=u.rows_loaded,
            rows_rejected=u.rows_rejected,
            duplicate_of=u.plan.get("duplicate_of"),
            options=u.options,
            created_at=u.created_at,
            updated_at=u.updated_at,
            expires_at=u.expires_at,
        )


class DatasetOut(BaseModel):
    id: str
    name: str
    collection_id: str
    table: TableRef
    schema_: dict[str, Any] = Field(serialization_alias="schema")
    column_mapping: list[dict[str, Any]]
    row_count: int
    size_bytes: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, d: Dataset) -> DatasetOut:
        return cls(
            id=d.id,
            name=d.name,
            collection_id=d.collection_id,
            table=TableRef(namespace=".".join(d.namespace), name=d.table_name),
            schema_=d.schema,
            column_mapping=d.column_mapping,
            row_count=d.row_count,
            size_bytes=d.size_bytes,
            created_at=d.created_at,
            updated_at=d.updated_at,
        )


class RowsOut(BaseModel):
    columns: list[str]
    rows: list[list[Any]]
    limit: int
    offset: int


class RejectOut(BaseModel):
    """One row left out under ``on_error: skip_row``."""

    line: int | None
    column: str | None
    value: str | None
    reason: str


class RejectsOut(BaseModel):
    """A page of an upload's rejected rows; ``total`` is the upload's ``rows_rejected``."""

    items: list[RejectOut]
    total: int
    limit: int
    offset: int
