"""The FastAPI application factory: everything is built from the runtime passed in."""

from __future__ import annotations

from fastapi import FastAPI

from lakeport import __version__
from lakeport.api import problems
from lakeport.api.routes import (
    blobs,
    collections,
    datasets,
    health,
    me,
    sessions,
    sources,
    uploads,
    uppy,
)
from lakeport.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    """An app bound to ``runtime`` (settings, database, storage, catalog)."""
    app = FastAPI(
        title="lakeport",
        version=__version__,
        description="Data files of any size into Apache Iceberg tables.",
    )
    app.state.runtime = runtime
    problems.install(app)
    routers = (health, me, collections, uploads, sessions, datasets, sources, uppy)
    for module in routers:
        app.include_router(module.router)
    if hasattr(runtime.store, "verify_request"):  # tusd: mount what the backend offers
        app.include_router(blobs.router)
    return app
