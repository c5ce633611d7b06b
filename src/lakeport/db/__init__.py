"""Persistence: engine, models, repositories and migrations. All SQL lives here."""

from __future__ import annotations

from lakeport.config import Settings
from lakeport.db.embedded import embedded_database_url


def database_url(settings: Settings) -> str:
    """The configured server, or the embedded one started inside the data directory."""
    if settings.database_url:
        return settings.database_url
    return embedded_database_url(settings.resolved_data_dir())
