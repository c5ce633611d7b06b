"""Request dependencies: the runtime, a database session and the authenticated caller.

Tokens come as ``Authorization: Bearer <token>`` or, for older clients,
``X-User-Token: <token>``. Collection access is checked here, once: a collection of
another org is "not found", a collection of one's own org with too low a role is 403.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from lakeport.access import collection_for
from lakeport.db import tenancy
from lakeport.errors import LakeportError
from lakeport.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, Runtime)
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(rt: RuntimeDep) -> Iterator[Session]:
    """One session per request, committed when the handler succeeds.

    ``scope="function"`` commits before the response is sent: a client acting on a 201
    at once must find what it created (the default scope commits after sending).
    """
    with rt.sessions.begin() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_principal(
    rt: RuntimeDep,
    authorization: Annotated[str | None, Header()] = None,
    x_user_token: Annotated[str | None, Header()] = None,
) -> tenancy.Principal:
    """The caller behind the token, or 401."""
    token = x_user_token
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise LakeportError("unauthorized", "use 'Authorization: Bearer <token>'")
        token = value.strip()
    if not token:
        raise LakeportError("unauthorized", "an API token is required")
    with rt.sessions() as session:
        principal = tenancy.principal_for_token(session, token)
    if principal is None:
        raise LakeportError("unauthorized", "the token is not valid or was revoked")
    return principal


PrincipalDep = Annotated[tenancy.Principal, Depends(get_principal)]


__all__ = ["collection_for"]
