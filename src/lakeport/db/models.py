"""SQLAlchemy models: the durable state of orgs, users, tokens, collections, uploads and datasets.

Only ``db/`` writes SQL. Identifiers are UUID strings so a malformed or foreign ID is
just a row that is not found (one 404 for both), never a database type error.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def new_id() -> str:
    """A fresh random identifier."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """Timezone-aware now; every timestamp lakeport stores is UTC."""
    return datetime.now(UTC)


def scrub_nul(value: Any) -> Any:
    """PostgreSQL text and JSONB cannot hold NUL; user data (headers, file names) can.
    NUL becomes U+FFFD so the row is stored instead of the transaction failing."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {scrub_nul(k): scrub_nul(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_nul(v) for v in value]
    return value


class SafeJSONB(TypeDecorator[Any]):
    """JSONB that never fails on NUL characters inside strings."""

    impl = JSONB
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return scrub_nul(value)


class SafeText(TypeDecorator[str]):
    """Text that never fails on NUL characters."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else value.replace("\x00", "\ufffd")


class Base(DeclarativeBase):
    """Declarative base; JSON columns are NUL-safe JSONB."""

    type_annotation_map = {dict[str, Any]: SafeJSONB, list[Any]: SafeJSONB}


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    limit_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16), default="member")
    used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    limit_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    #: SHA-256 of the token; the token itself is shown once and never stored.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: First characters of the token, so an admin can tell tokens apart.
    display_prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Collection(Base):
    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("org_id", "slug"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    #: Identifier-safe form of the name; the Iceberg namespace is (org name, slug).
    slug: Mapped[str] = mapped_column(String(128))
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Grant(Base):
    __tablename__ = "grants"

    collection_id: Mapped[str] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("collection_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    collection_id: Mapped[str] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(128))
    namespace: Mapped[list[Any]] = mapped_column()
    table_name: Mapped[str] = mapped_column(String(128))
    location: Mapped[str] = mapped_column(Text)
    #: ``{fields: [{name, type, nullable}], fingerprint}``
    schema: Mapped[dict[str, Any]] = mapped_column()
    #: ``[{original, name}]``: the header a user sent and the column it became.
    column_mapping: Mapped[list[Any]] = mapped_column(default=list)
    row_count: Mapped[int] = mapped_column(BigInteger, default=0)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class Upload(Base):
    __tablename__ = "uploads"
    __table_args__ = (Index("ix_uploads_collection_created", "collection_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    collection_id: Mapped[str] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(SafeText)
    content_type: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Landing-zone key, built from IDs; internal, never returned by the API.
    object_key: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    completion_status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    completion_steps_log: Mapped[list[Any]] = mapped_column(default=list)
    failure_reason: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    #: What the user asked for: dataset name, format options, schema policy.
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: What the pipeline decided and persisted between steps (internal).
    plan: Mapped[dict[str, Any]] = mapped_column(default=dict)
    schema_preview: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    dataset_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    rows_read: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rows_loaded: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Rows skipped under ``on_error: skip_row`` (kept in a rejects file with the upload).
    rows_rejected: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    #: Quota bookkeeping: bytes reserved before the size is known, bytes charged after.
    reserved_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    charged_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Dataset whose group commit this upload waits for (source files, see
    #: ``pipeline.group_commit``); None once committed or when committing alone.
    commit_group: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    #: Storage connection holding ``object_key`` (None: the landing zone).
    connection: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Storage-side multipart upload ID and part size (multipart sessions only).
    storage_upload_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    part_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Source(Base):
    """A watched storage prefix whose files are ingested into one dataset."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("collection_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), index=True)
    collection_id: Mapped[str] = mapped_column(
        ForeignKey("collections.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(128))
    #: Name of a storage connection from settings (secrets never pass through the API).
    connection: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(Text, default="")
    pattern: Mapped[str] = mapped_column(Text, default="**")
    modified_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: Upload options applied to every file (format overrides, dataset_name, schema_policy).
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    schedule: Mapped[str | None] = mapped_column(Text, nullable=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    on_change: Mapped[str] = mapped_column(String(16), default="replace")
    on_delete: Mapped[str] = mapped_column(String(16), default="keep")
    next_run_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )


class SourceRun(Base):
    """One discovery pass over a source and the processing of what it found."""

    __tablename__ = "source_runs"
    __table_args__ = (
        Index(
            "ux_source_runs_one_running",
            "source_id",
            unique=True,
            postgresql_where=text("status = 'running'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="running")
    #: ``discovering`` until the listing is complete, then ``processing``.
    phase: Mapped[str] = mapped_column(String(16), default="discovering")
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class SourceFile(Base):
    """Per-file state, kept as long as the source exists (no horizon to forget files)."""

    __tablename__ = "source_files"
    __table_args__ = (
        UniqueConstraint("source_id", "path"),
        Index("ix_source_files_status", "source_id", "status", "path"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    path: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(Text)
    modified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    #: The listing (run) that last saw the file; files not seen by a run were deleted.
    seen_run_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    upload_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    processed_etag: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Data files the last successful load produced (replaced when the file changes).
    data_files: Mapped[list[Any]] = mapped_column(default=list)
    rows_loaded: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    bytes_read: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    duration_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
