"""Who may do what: org roles and per-collection grants, as pure functions.

Org ``admin``s may do everything inside their org. A ``member`` acts on a collection
through a grant: ``viewer`` reads, ``editor`` also writes (uploads, appends, deletes).
Another org's resources never reach these rules: they are filtered out as "not found"
before any role is checked, so a foreign ID is a 404 and never a 403.
"""

from __future__ import annotations

from typing import Literal

OrgRole = Literal["admin", "member"]
CollectionRole = Literal["viewer", "editor"]
Action = Literal["read", "write"]

ORG_ROLES: tuple[str, ...] = ("admin", "member")
COLLECTION_ROLES: tuple[str, ...] = ("viewer", "editor")


def may(org_role: str, grant: str | None, action: Action) -> bool:
    """Whether a user with ``org_role`` and collection ``grant`` may perform ``action``."""
    if org_role == "admin":
        return True
    if grant == "editor":
        return True
    return grant == "viewer" and action == "read"
