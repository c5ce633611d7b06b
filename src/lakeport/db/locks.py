"""PostgreSQL advisory locks that serialise work across processes and machines."""

from __future__ import annotations

import zlib

from sqlalchemy import text
from sqlalchemy.orm import Session


def lock_collection(session: Session, collection_id: str) -> None:
    """Hold the collection's lock until the transaction ends: commits to its tables and
    dataset naming happen one at a time (a retry never races its own first attempt)."""
    key = zlib.crc32(f"collection:{collection_id}".encode())
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
