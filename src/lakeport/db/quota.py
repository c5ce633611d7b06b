"""Byte quotas, enforced atomically in PostgreSQL.

A reservation is one ``UPDATE … WHERE limit IS NULL OR used + reserved + delta <= limit
RETURNING`` per account (org, then user) in the caller's transaction: no read-then-write
race, so 50 concurrent reservations against room for 10 admit exactly 10. Settling moves
bytes from reserved to used at their true size; releasing gives reserved or used bytes
back, never below zero.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, text
from sqlalchemy.orm import Session

from lakeport.db.models import Org, User
from lakeport.errors import LakeportError


@dataclass(frozen=True)
class Usage:
    used_bytes: int
    reserved_bytes: int
    limit_bytes: int | None


def _table(model: type[Org] | type[User]) -> str:
    table = model.__table__
    assert isinstance(table, Table)
    return table.name


def reserve(session: Session, org_id: str, user_id: str, delta: int) -> None:
    """Reserve ``delta`` bytes on the org and the user, or raise ``quota_exceeded``."""
    for model, account_id in ((Org, org_id), (User, user_id)):
        row = session.execute(
            text(
                f"UPDATE {_table(model)} SET reserved_bytes = reserved_bytes + :d "
                "WHERE id = :id AND (limit_bytes IS NULL OR "
                "used_bytes + reserved_bytes + :d <= limit_bytes) RETURNING id"
            ),
            {"d": delta, "id": account_id},
        ).first()
        if row is None:
            usage = usage_of(session, model, account_id)
            who = "org" if model is Org else "user"
            raise LakeportError(
                "quota_exceeded",
                f"this upload would exceed the {who}'s storage quota; delete datasets or ask "
                "an admin to raise the limit",
                {
                    "account": who,
                    "used_bytes": usage.used_bytes,
                    "reserved_bytes": usage.reserved_bytes,
                    "limit_bytes": usage.limit_bytes,
                    "rejected_bytes": delta,
                },
            )


def settle(session: Session, org_id: str, user_id: str, reserved: int, actual: int) -> None:
    """Turn a reservation into usage at the true size (checked against the limit)."""
    release_reserved(session, org_id, user_id, reserved)
    reserve(session, org_id, user_id, actual)
    release_reserved(session, org_id, user_id, actual)
    _add_used(session, org_id, user_id, actual)


def release_reserved(session: Session, org_id: str, user_id: str, amount: int) -> None:
    _shift(session, org_id, user_id, "reserved_bytes", -amount)


def release_used(session: Session, org_id: str, user_id: str, amount: int) -> None:
    _shift(session, org_id, user_id, "used_bytes", -amount)


def _add_used(session: Session, org_id: str, user_id: str, amount: int) -> None:
    _shift(session, org_id, user_id, "used_bytes", amount)


def _shift(session: Session, org_id: str, user_id: str, column: str, delta: int) -> None:
    if delta == 0:
        return
    for model, account_id in ((Org, org_id), (User, user_id)):
        session.execute(
            text(
                f"UPDATE {_table(model)} SET {column} = GREATEST(0, {column} + :d) WHERE id = :id"
            ),
            {"d": delta, "id": account_id},
        )


def usage_of(session: Session, model: type[Org] | type[User], account_id: str) -> Usage:
    account = session.get(model, account_id, populate_existing=True)
    assert account is None or isinstance(account, Org | User)
    if account is None:
        return Usage(0, 0, None)
    return Usage(account.used_bytes, account.reserved_bytes, account.limit_bytes)
