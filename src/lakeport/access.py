"""Collection access, checked once for every surface (REST, GraphQL, CLI-facing services).

A collection of another org is "not found"; one of the caller's own org with too low a
role is 403.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from lakeport.db import tenancy
from lakeport.db import uploads as uploads_repo
from lakeport.db.models import Collection, Upload
from lakeport.domain.access import Action, may
from lakeport.errors import LakeportError, not_found


def collection_for(
    session: Session, principal: tenancy.Principal, collection_id: str, action: Action
) -> Collection:
    """The caller's collection if they may ``action`` it; 404 when foreign, 403 when weak."""
    collection = tenancy.get_collection(session, principal.org_id, collection_id)
    if collection is None:
        raise not_found("collection")
    grant = tenancy.grant_for(session, collection.id, principal.user_id)
    if not may(principal.role, grant, action):
        raise LakeportError("forbidden", f"your role on this collection does not allow {action}")
    return collection


def upload_for(
    session: Session,
    principal: tenancy.Principal,
    upload_id: str,
    action: Action,
    *,
    lock: bool = False,
) -> Upload:
    """The caller's upload if they may ``action`` its collection (404 when foreign);
    with ``lock``, the row is locked for the rest of the transaction."""
    upload = uploads_repo.get_upload(session, principal.org_id, upload_id)
    if upload is None:
        raise not_found("upload")
    collection_for(session, principal, upload.collection_id, action)
    if lock:
        locked = uploads_repo.lock_upload(session, upload_id)
        assert locked is not None
        return locked
    return upload
