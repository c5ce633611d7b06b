"""Database URLs and engines.

lakeport speaks to PostgreSQL through psycopg 3 everywhere: SQLAlchemy for its own state,
pyiceberg's SQL catalog, and procrastinate's queue. This module turns one configured URL
into the flavours each of them wants.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url


def sqlalchemy_url(url: str) -> str:
    """``postgresql://…`` → ``postgresql+psycopg://…`` (the driver lakeport ships)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def libpq_conninfo(url: str, options: str = "") -> str:
    """A libpq URI (for procrastinate and psql) from any SQLAlchemy-style URL, with
    ``options`` (``-c name=value`` session settings) added to any the URL has."""
    parsed = make_url(url).set(drivername="postgresql")
    if not options:
        return parsed.render_as_string(hide_password=False)
    given = parsed.query.get("options", "")
    given = given if isinstance(given, str) else " ".join(given)
    rest = parsed.difference_update_query(["options"]).render_as_string(hide_password=False)
    # libpq decodes %20, not the '+' SQLAlchemy would write for a space
    value = quote(f"{given} {options}".strip(), safe="")
    return f"{rest}{'&' if '?' in rest else '?'}options={value}"


def create_db_engine(url: str, *, pool_size: int = 10) -> Engine:
    """An engine with pre-ping, so a restarted database never surfaces as a 500."""
    return create_engine(
        sqlalchemy_url(url), pool_pre_ping=True, pool_size=pool_size, max_overflow=20
    )
