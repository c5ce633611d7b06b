"""Settings, read from ``LAKEPORT_*`` environment variables (nested groups use ``__``).

Examples: ``LAKEPORT_DATA_DIR``, ``LAKEPORT_DATABASE_URL``, ``LAKEPORT_STORAGE__BACKEND=s3``,
``LAKEPORT_STORAGE__BUCKET``, ``LAKEPORT_CATALOG__TYPE=rest``,
``LAKEPORT_CATALOG__PROPERTIES='{"uri": "http://..."}'``.

Settings are built by the entry points (``create_app(settings)``, the worker's start-up),
never at import time, so tests inject their own.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StorageSettings(BaseModel):
    """Where landing-zone objects live."""

    backend: Literal["local", "s3"] = "local"
    #: Root for the ``local`` backend; default ``<data_dir>/storage``.
    root: Path | None = None
    bucket: str = "lakeport"
    region: str = "us-east-1"
    #: Endpoint the service itself talks to (e.g. ``http://minio:9000``); None = AWS.
    endpoint_url: str | None = None
    #: Endpoint written into presigned URLs handed to clients, when it differs.
    public_endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    #: Key prefix inside the bucket, so one bucket can serve several deployments.
    prefix: str = ""


class CatalogSettings(BaseModel):
    """The Iceberg catalog. Default: pyiceberg's SQL catalog on lakeport's own Postgres."""

    type: Literal["sql", "rest", "glue"] = "sql"
    name: str = "lakeport"
    #: Extra properties passed verbatim to ``pyiceberg.catalog.load_catalog``.
    properties: dict[str, str] = Field(default_factory=dict)
    #: Warehouse location; default ``file://<data_dir>/warehouse``.
    warehouse: str | None = None


class WorkerSettings(BaseModel):
    """Background job execution."""

    concurrency: int = 2
    #: Seconds without a heartbeat after which a worker's jobs are handed back.
    stalled_after_seconds: int = 300
    #: Times one upload may be started (worker deaths and transient retries included)
    #: before it is failed with ``worker_lost``: a file that kills workers stops there.
    max_attempts: int = 3
    #: Seconds a stopping worker waits for in-flight jobs before handing them back.
    shutdown_grace_seconds: float = 60.0
    #: Seconds between a worker's polls for due jobs. New jobs wake workers at once
    #: (LISTEN/NOTIFY); this only bounds how late a job scheduled ahead (a group commit
    #: waiting out its window, a retry's backoff) starts.
    poll_seconds: float = Field(default=1.0, gt=0, le=60)
    #: Text of a CSV typed before converting; later values are checked as they are
    #: converted, and a file whose types change is typed in full and converted again.
    #: 0 types every file in full first (two reads of every file).
    infer_sample_bytes: int = Field(default=32 * 1024**2, ge=0)


class SourceSettings(BaseModel):
    """Prefix-source behaviour."""

    #: Rows written per batch while recording a listing (memory stays one batch).
    discovery_batch: int = 1000
    #: Most source files committed in one Iceberg snapshot (a group commit); a group
    #: commit starts at once when this many files wait.
    commit_batch_files: int = Field(default=500, ge=1)
    #: Longest a converted file waits for more files to share its snapshot; 0 commits
    #: as soon as a worker is free (files still group while a commit runs).
    commit_wait_seconds: float = Field(default=1.0, ge=0, le=3600)


class UploadSettings(BaseModel):
    """Limits on what clients may send."""

    max_direct_bytes: int = 5 * 1024**3
    #: Largest file a presigned single PUT may declare; bigger files use multipart.
    max_presigned_bytes: int = 100 * 1024**2
    #: Largest multipart upload (S3's object limit).
    max_multipart_bytes: int = 5 * 1024**4
    #: Lifetime of each signed URL handed out.
    url_expiry_seconds: int = 15 * 60
    #: Sessions never completed expire after these many seconds.
    presigned_session_seconds: int = 3600
    multipart_session_seconds: int = 24 * 3600
    #: Days an upload row is kept after it ends, by outcome.
    keep_registered_days: int = 30
    keep_failed_days: int = 90
    keep_unfinished_days: int = 7


class Settings(BaseSettings):
    """All lakeport settings. Every field is also an environment variable."""

    model_config = SettingsConfigDict(
        env_prefix="LAKEPORT_", env_nested_delimiter="__", extra="ignore"
    )

    data_dir: Path = Path("./lakeport-data")
    #: ``postgresql://...``; unset = start an embedded PostgreSQL in ``<data_dir>/pg``.
    database_url: str | None = None
    storage: StorageSettings = Field(default_factory=StorageSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)
    #: Named storage connections that prefix sources read from, e.g.
    #: ``LAKEPORT_CONNECTIONS='{"drop": {"backend": "local", "root": "/srv/drop"}}'``.
    #: Credentials live here, never in the API.
    connections: dict[str, StorageSettings] = Field(default_factory=dict)
    sources: SourceSettings = Field(default_factory=lambda: SourceSettings())
    #: Secret for signing local-storage URLs; default: generated once into the data dir.
    signing_secret: SecretStr | None = None
    #: Used as the first admin token on bootstrap instead of a random one.
    bootstrap_token: SecretStr | None = None

    def resolved_data_dir(self) -> Path:
        """The data directory as an absolute path (created on demand by the caller)."""
        return self.data_dir.expanduser().resolve()

    def storage_root(self) -> Path:
        """Root directory of the local BlobStore."""
        return (self.storage.root or self.resolved_data_dir() / "storage").resolve()

    def warehouse(self) -> str:
        """The Iceberg warehouse location as a URI."""
        if self.catalog.warehouse:
            return self.catalog.warehouse
        return (self.resolved_data_dir() / "warehouse").as_uri()

    def signing_key(self) -> bytes:
        """The URL-signing secret, generated once and kept in the data dir when unset."""
        if self.signing_secret is not None:
            return self.signing_secret.get_secret_value().encode()
        path = self.resolved_data_dir() / "signing-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()
