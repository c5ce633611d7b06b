"""Repository for orgs, users, tokens, collections and grants.

Every lookup that takes an ID from a client also takes the caller's org, so a foreign
ID simply returns ``None`` and the caller answers 404.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from lakeport.db.models import ApiToken, Collection, Grant, Org, User, utcnow

TOKEN_PREFIX = "lp_"


def hash_token(token: str) -> str:
    """SHA-256 of a token: tokens are long random strings, so a fast hash is enough."""
    return hashlib.sha256(token.encode()).hexdigest()


def generate_token() -> str:
    """A new random API token (shown once, stored hashed)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Principal:
    """Who is calling: resolved from a token on every request."""

    user_id: str
    user_name: str
    org_id: str
    org_name: str
    role: str
    token_id: str


def principal_for_token(session: Session, token: str) -> Principal | None:
    """The principal a live token belongs to, or None for unknown or revoked tokens."""
    row = session.execute(
        select(ApiToken, User, Org)
        .join(User, ApiToken.user_id == User.id)
        .join(Org, User.org_id == Org.id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    tok, user, org = row
    return Principal(user.id, user.name, org.id, org.name, user.role, tok.id)


def get_org_by_name(session: Session, name: str) -> Org | None:
    return session.scalar(select(Org).where(Org.name == name))


def create_org(session: Session, name: str) -> Org:
    org = Org(name=name)
    session.add(org)
    session.flush()
    return org


def get_user_by_name(session: Session, org_id: str, name: str) -> User | None:
    return session.scalar(select(User).where(User.org_id == org_id, User.name == name))


def create_user(session: Session, org_id: str, name: str, role: str) -> User:
    user = User(org_id=org_id, name=name, role=role)
    session.add(user)
    session.flush()
    return user


def create_token(session: Session, user_id: str, token: str | None = None) -> tuple[ApiToken, str]:
    """Store a token's hash and return the row and the plaintext (to show once)."""
    plaintext = token or generate_token()
    row = ApiToken(user_id=user_id, token_hash=hash_token(plaintext), display_prefix=plaintext[:10])
    session.add(row)
    session.flush()
    return row, plaintext


def revoke_token(session: Session, token_or_id: str) -> bool:
    """Revoke by token ID or by the token itself; True when something was revoked."""
    result = session.execute(
        update(ApiToken)
        .where(
            (ApiToken.id == token_or_id) | (ApiToken.token_hash == hash_token(token_or_id)),
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_collections(session: Session, org_id: str) -> list[Collection]:
    return list(
        session.scalars(
            select(Collection).where(Collection.org_id == org_id).order_by(Collection.created_at)
        )
    )


def get_collection(session: Session, org_id: str, collection_id: str) -> Collection | None:
    return session.scalar(
        select(Collection).where(Collection.id == collection_id, Collection.org_id == org_id)
    )


def get_collection_by_slug(session: Session, org_id: str, slug: str) -> Collection | None:
    return session.scalar(
        select(Collection).where(Collection.org_id == org_id, Collection.slug == slug)
    )


def create_collection(
    session: Session, org_id: str, name: str, slug: str, description: str | None
) -> Collection:
    coll = Collection(org_id=org_id, name=name, slug=slug, description=description)
    session.add(coll)
    session.flush()
    return coll


def grant_for(session: Session, collection_id: str, user_id: str) -> str | None:
    """The user's role on a collection, or None."""
    return session.scalar(
        select(Grant.role).where(Grant.collection_id == collection_id, Grant.user_id == user_id)
    )


def set_grant(session: Session, collection_id: str, user_id: str, role: str) -> None:
    existing = session.get(Grant, (collection_id, user_id))
    if existing is None:
        session.add(Grant(collection_id=collection_id, user_id=user_id, role=role))
    else:
        existing.role = role
    session.flush()


def set_quota(session: Session, org_id: str, user_id: str | None, limit: int | None) -> None:
    """Set the byte limit of an org, or of one user when ``user_id`` is given."""
    if user_id is None:
        session.execute(update(Org).where(Org.id == org_id).values(limit_bytes=limit))
    else:
        session.execute(
            update(User).where(User.id == user_id, User.org_id == org_id).values(limit_bytes=limit)
        )
