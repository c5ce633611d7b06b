"""Liveness and readiness probes (no auth: load balancers call them)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text

from lakeport.api.deps import RuntimeDep
from lakeport.errors import LakeportError

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(rt: RuntimeDep) -> dict[str, str]:
    """The database and the storage answer."""

    def check() -> None:
        try:
            with rt.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:
            raise LakeportError("storage_error", f"database unreachable: {exc}") from exc
        rt.store.ping()

    await run_in_threadpool(check)
    return {"status": "ready"}
