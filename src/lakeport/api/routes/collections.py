"""Collections: the unit of access inside an org."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.exc import IntegrityError

from lakeport.api.deps import PrincipalDep, SessionDep, collection_for
from lakeport.api.schemas import CollectionIn, CollectionOut
from lakeport.db import tenancy
from lakeport.errors import LakeportError
from lakeport.pipeline.targets import safe_identifier

router = APIRouter(prefix="/v1/collections", tags=["collections"])


@router.post("", status_code=201)
def create_collection(
    body: CollectionIn, principal: PrincipalDep, session: SessionDep
) -> CollectionOut:
    """Any member may create a collection and becomes its editor."""
    slug = safe_identifier(body.name, "collection")
    if tenancy.get_collection_by_slug(session, principal.org_id, slug) is not None:
        raise LakeportError("already_exists", f"a collection named like {body.name!r} exists")
    try:
        coll = tenancy.create_collection(
            session, principal.org_id, body.name.strip(), slug, body.description
        )
    except IntegrityError as exc:  # a concurrent create won the race
        raise LakeportError("already_exists", f"a collection named {body.name!r} exists") from exc
    if principal.role != "admin":
        tenancy.set_grant(session, coll.id, principal.user_id, "editor")
    return CollectionOut.of(coll)


@router.get("")
def list_collections(
    principal: PrincipalDep, session: SessionDep
) -> dict[str, list[CollectionOut]]:
    """Admins see every collection of the org; members those they hold a grant on."""
    items = tenancy.list_collections(session, principal.org_id)
    if principal.role != "admin":
        items = [c for c in items if tenancy.grant_for(session, c.id, principal.user_id)]
    return {"items": [CollectionOut.of(c) for c in items]}


@router.get("/{collection_id}")
def get_collection(
    collection_id: str, principal: PrincipalDep, session: SessionDep
) -> CollectionOut:
    return CollectionOut.of(collection_for(session, principal, collection_id, "read"))
