"""Migrations must reproduce the models exactly, and be safe to run twice."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from lakeport.db.engine import create_db_engine
from lakeport.db.migrate import upgrade
from lakeport.db.models import Base


def _ours(name: str | None) -> bool:
    return not (name or "").startswith(("procrastinate", "iceberg", "alembic"))


def test_migrations_reproduce_the_models(database_url):
    engine = create_db_engine(database_url)
    try:
        upgrade(engine)
        upgrade(engine)  # idempotent: a restart applies nothing twice
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn,
                opts={
                    "include_name": lambda name, type_, parent: _ours(name),
                    "compare_type": True,
                },
            )
            diffs = compare_metadata(ctx, Base.metadata)
        assert diffs == []
        tables = set(inspect(engine).get_table_names())
        assert {"uploads", "datasets", "orgs", "procrastinate_jobs"} <= tables
    finally:
        engine.dispose()
