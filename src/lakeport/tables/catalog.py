"""Loading the Iceberg catalog through pyiceberg's ``load_catalog``.

Default: pyiceberg's SQL catalog stored in lakeport's own PostgreSQL, so one database
holds state, queue and catalog. ``rest`` and ``glue`` catalogs are configured by passing
their properties (``LAKEPORT_CATALOG__PROPERTIES``); lakeport adds nothing of its own.
"""

from __future__ import annotations

from pyiceberg.catalog import Catalog, load_catalog

from lakeport.config import Settings
from lakeport.db.engine import sqlalchemy_url


def catalog_properties(settings: Settings, database_url: str) -> dict[str, str]:
    """The properties handed to ``load_catalog`` for the configured catalog type."""
    props: dict[str, str] = {"type": settings.catalog.type, "warehouse": settings.warehouse()}
    if settings.catalog.type == "sql":
        props["uri"] = sqlalchemy_url(database_url)
    if settings.storage.backend == "s3" and settings.storage.endpoint_url:
        props.setdefault("s3.endpoint", settings.storage.endpoint_url)
        props.setdefault("s3.region", settings.storage.region)
        if settings.storage.access_key_id:
            props.setdefault("s3.access-key-id", settings.storage.access_key_id)
        if settings.storage.secret_access_key:
            secret = settings.storage.secret_access_key.get_secret_value()
            props.setdefault("s3.secret-access-key", secret)
    props.update(settings.catalog.properties)
    return props


def open_catalog(settings: Settings, database_url: str) -> Catalog:
    """The configured catalog, ready to use."""
    return load_catalog(settings.catalog.name, **catalog_properties(settings, database_url))
