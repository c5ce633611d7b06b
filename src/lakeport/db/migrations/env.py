"""Alembic environment: runs on the connection lakeport hands it (see ``db.migrate``)."""

from __future__ import annotations

from alembic import context

from lakeport.db.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_name=lambda name, type_, parent: not (name or "").startswith("procrastinate"),
)
with context.begin_transaction():
    context.run_migrations()
