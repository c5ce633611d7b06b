"""Who am I: the caller's user, org and role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from lakeport.api.deps import PrincipalDep, SessionDep
from lakeport.db.models import Org, User
from lakeport.db.quota import usage_of

router = APIRouter(prefix="/v1", tags=["me"])


@router.get("/me")
def me(principal: PrincipalDep) -> dict[str, Any]:
    return {
        "user": {"id": principal.user_id, "name": principal.user_name},
        "org": {"id": principal.org_id, "name": principal.org_name},
        "role": principal.role,
    }


@router.get("/me/quota")
def my_quota(principal: PrincipalDep, session: SessionDep) -> dict[str, Any]:
    """Bytes used, reserved (uploads in flight) and allowed, for the user and the org."""
    user = usage_of(session, User, principal.user_id)
    org = usage_of(session, Org, principal.org_id)
    return {"user": user.__dict__, "org": org.__dict__}
