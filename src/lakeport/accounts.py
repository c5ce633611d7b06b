"""Account administration: orgs, users, tokens, grants and quotas, plus first-start bootstrap.

Used by ``lakeport admin`` and by ``serve`` on first start. Business rules live here;
the CLI only parses arguments and prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy.orm import Session

from lakeport.db import tenancy
from lakeport.db.models import Org, User
from lakeport.domain.access import COLLECTION_ROLES, ORG_ROLES
from lakeport.errors import LakeportError, not_found
from lakeport.runtime import Runtime

DEFAULT_ORG = "default"
ADMIN_USER = "admin"


@dataclass(frozen=True)
class Bootstrap:
    """The outcome of first start: the token is set only when it was just created."""

    token: str | None
    token_file: str


def _org(session: Session, name: str) -> Org:
    org = tenancy.get_org_by_name(session, name)
    if org is None:
        raise not_found(f"org {name!r}")
    return org


def _user(session: Session, org: Org, name: str) -> User:
    user = tenancy.get_user_by_name(session, org.id, name)
    if user is None:
        raise not_found(f"user {name!r} in org {org.name!r}")
    return user


def create_org(rt: Runtime, name: str) -> str:
    with rt.sessions.begin() as session:
        if tenancy.get_org_by_name(session, name) is not None:
            raise LakeportError("already_exists", f"org {name!r} exists")
        return tenancy.create_org(session, name).id


def create_user(rt: Runtime, name: str, org_name: str, role: str) -> str:
    if role not in ORG_ROLES:
        raise LakeportError("validation_error", f"role must be one of {ORG_ROLES}")
    with rt.sessions.begin() as session:
        org = _org(session, org_name)
        if tenancy.get_user_by_name(session, org.id, name) is not None:
            raise LakeportError("already_exists", f"user {name!r} exists in {org_name!r}")
        return tenancy.create_user(session, org.id, name, role).id


def create_token(rt: Runtime, org_name: str, user_name: str | None, role: str) -> str:
    """A new token for ``user_name``; without a user, a service user named for the role."""
    with rt.sessions.begin() as session:
        org = _org(session, org_name)
        if user_name is None:
            user_name = f"service-{role}"
            user = tenancy.get_user_by_name(session, org.id, user_name)
            if user is None:
                if role not in ORG_ROLES:
                    raise LakeportError("validation_error", f"role must be one of {ORG_ROLES}")
                user = tenancy.create_user(session, org.id, user_name, role)
        else:
            user = _user(session, org, user_name)
        _, plaintext = tenancy.create_token(session, user.id)
        return plaintext


def grant(rt: Runtime, org_name: str, user_name: str, collection: str, role: str) -> None:
    """Give a user ``viewer`` or ``editor`` on a collection (by ID or name)."""
    if role not in COLLECTION_ROLES:
        raise LakeportError("validation_error", f"role must be one of {COLLECTION_ROLES}")
    with rt.sessions.begin() as session:
        org = _org(session, org_name)
        user = _user(session, org, user_name)
        coll = tenancy.get_collection(session, org.id, collection) or next(
            (c for c in tenancy.list_collections(session, org.id) if c.name == collection), None
        )
        if coll is None:
            raise not_found(f"collection {collection!r}")
        tenancy.set_grant(session, coll.id, user.id, role)


def revoke_token(rt: Runtime, token_or_id: str) -> None:
    with rt.sessions.begin() as session:
        if not tenancy.revoke_token(session, token_or_id):
            raise not_found("live token")


def set_quota(rt: Runtime, org_name: str, user_name: str | None, limit: int | None) -> None:
    with rt.sessions.begin() as session:
        org = _org(session, org_name)
        user_id = _user(session, org, user_name).id if user_name else None
        tenancy.set_quota(session, org.id, user_id, limit)


def bootstrap(rt: Runtime) -> Bootstrap:
    """On first start: org ``default``, user ``admin`` and an admin token (0600 file).

    ``LAKEPORT_BOOTSTRAP_TOKEN`` replaces the random token, for automation.
    """
    token_file = rt.settings.resolved_data_dir() / "admin-token"
    with rt.sessions.begin() as session:
        if tenancy.get_org_by_name(session, DEFAULT_ORG) is not None:
            return Bootstrap(None, str(token_file))
        org = tenancy.create_org(session, DEFAULT_ORG)
        user = tenancy.create_user(session, org.id, ADMIN_USER, "admin")
        wanted = rt.settings.bootstrap_token
        _, token = tenancy.create_token(
            session, user.id, wanted.get_secret_value() if wanted else None
        )
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    os.chmod(token_file, 0o600)
    return Bootstrap(token, str(token_file))
