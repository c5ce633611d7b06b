"""The process-wide wiring: settings, database, storage and catalog, built once at start-up.

Both the API (``create_app``) and the worker build a :class:`Runtime` from settings; tests
build their own. Nothing here runs at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from pyiceberg.catalog import Catalog
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from lakeport.config import Settings, StorageSettings
from lakeport.db import database_url
from lakeport.db.engine import create_db_engine
from lakeport.db.migrate import upgrade
from lakeport.errors import LakeportError
from lakeport.storage import BlobStore, build_blob_store
from lakeport.tables.catalog import open_catalog


@dataclass
class Runtime:
    """Everything a request handler or a job needs, created from one :class:`Settings`."""

    settings: Settings
    database_url: str
    engine: Engine
    store: BlobStore
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._connection_stores: dict[str, BlobStore] = {}

    @classmethod
    def build(cls, settings: Settings, *, migrate: bool = True) -> Runtime:
        """Connect (starting the embedded database if needed) and apply migrations."""
        settings.resolved_data_dir().mkdir(parents=True, exist_ok=True)
        url = database_url(settings)
        engine = create_db_engine(url)
        if migrate:
            upgrade(engine)
        return cls(
            settings=settings, database_url=url, engine=engine, store=build_blob_store(settings)
        )

    def store_for(self, connection: str | None) -> BlobStore:
        """The landing zone (``None``) or a named connection's store, built once each."""
        if connection is None:
            return self.store
        if connection not in self._connection_stores:
            conf = self.settings.connections.get(connection)
            if conf is None:
                raise LakeportError("validation_error", f"no storage connection named "
                                    f"{connection!r} is configured")
            self._connection_stores[connection] = _connection_store(self.settings, conf)
        return self._connection_stores[connection]

    @cached_property
    def catalog(self) -> Catalog:
        """The Iceberg catalog, opened on first use (it creates its own tables)."""
        return open_catalog(self.settings, self.database_url)

    def close(self) -> None:
        """Release database connections (lakeport's and the SQL catalog's) and storage pools."""
        self.engine.dispose()
        for store in (self.store, *self._connection_stores.values()):
            store.close()
        catalog = self.__dict__.get("catalog")
        catalog_engine = getattr(catalog, "engine", None)
        if catalog_engine is not None:
            catalog_engine.dispose()


def _connection_store(settings: Settings, conf: StorageSettings) -> BlobStore:
    """A read-mostly store for a source connection (no URL signing needed)."""
    if conf.backend == "s3":
        from lakeport.storage.s3 import S3Store

        return S3Store(conf, scratch_dir=settings.resolved_data_dir() / "tmp")
    from lakeport.storage.local import LocalStore

    if conf.root is None:
        raise LakeportError("validation_error", "a local connection needs a root directory")
    return LocalStore(conf.root)
