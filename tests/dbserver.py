"""Finding a PostgreSQL for the tests and making a fresh database per test or module.

Order: ``LAKEPORT_TEST_DATABASE_URL``; the server at 127.0.0.1:5432 when it answers;
else the embedded server (pgserver) in a temporary directory, so the suite also passes
where no PostgreSQL runs.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _answers(url: str) -> bool:
    try:
        with psycopg.connect(url, connect_timeout=2):
            return True
    except psycopg.OperationalError:
        return False


@contextmanager
def admin_url() -> Iterator[str]:
    """A URL of a database on a server where the tests may create databases."""
    explicit = os.environ.get("LAKEPORT_TEST_DATABASE_URL")
    if explicit:
        yield explicit
        return
    if _answers(LOCAL_URL):
        yield LOCAL_URL
        return
    from lakeport.db.embedded import embedded_database_url, stop_embedded

    with tempfile.TemporaryDirectory(prefix="lp-pg-") as tmp:
        yield embedded_database_url(Path(tmp))
        stop_embedded(Path(tmp))


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """Create an empty database, yield its URL, drop it afterwards."""
    name = f"lp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
