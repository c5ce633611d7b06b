"""procrastinate job-queue schema (from the pinned procrastinate release)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Upgrading procrastinate means adding a revision that runs the release's migration
scripts (procrastinate.schema.SchemaManager.get_migrations_path()).
"""
from alembic import op
from procrastinate.schema import SchemaManager

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(SchemaManager.get_schema())


def downgrade() -> None:
    op.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
