"""index procrastinate jobs by lock while they wait or run

procrastinate's fetch checks, for every candidate job, whether another job with the
same lock is running or queued ahead of it. Its only indexes on ``lock`` are a
partial one for running jobs and ``(id, lock)``, so each check read the whole queue:
with a few thousand source files queued a fetch took 100-350 ms and PostgreSQL spent
more CPU than the workers (``bench/sources.py``). This index makes each check a
lookup. lakeport's own, beside procrastinate's schema; harmless to it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS lakeport_jobs_lock_waiting_idx ON procrastinate_jobs (lock) "
        "WHERE status IN ('todo', 'doing')"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS lakeport_jobs_lock_waiting_idx")
