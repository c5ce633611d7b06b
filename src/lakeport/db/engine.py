"""Database URLs and engines.

lakeport speaks to PostgreSQL through psycopg 3 everywhere: SQLAlchemy for its own state,
pyiceberg's SQL catalog, and procrastinate's queue. This module turns one configured URL
into the flavours each of them wants.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url


def sqlalchemy_url(url: str) -> str:
    """``postgresql://…`` → ``postgresql+psycopg://…`` (the driver lakeport ships)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def libpq_conninfo(url: str) -> str:
    """A libpq URI (for procrastinate and psql) from any SQLAlchemy-style URL."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine with pre-ping, so a restarted database never surfaces as a 500."""
    return create_engine(
        sqlalchemy_url(url), pool_pre_ping=True, pool_size=pool_size, max_overflow=20
    )
