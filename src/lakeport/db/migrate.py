"""Schema migrations, applied on start by ``serve``, ``worker`` and ``admin``.

Alembic owns lakeport's tables; its first revision also installs procrastinate's schema
(from the pinned procrastinate release), so one ``upgrade`` makes a database ready. A
PostgreSQL advisory lock serialises concurrent starters (several workers booting at once).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x1A4E9087  # arbitrary, constant: "lakeport migrations"


def alembic_config() -> Config:
    """Alembic configuration pointing at the packaged migration scripts."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision; safe to call from many processes."""
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
