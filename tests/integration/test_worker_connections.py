"""procrastinate's connections plan each statement for its arguments: the generic plan
PostgreSQL falls back to after five calls makes the job fetch read the whole queue.
Real PostgreSQL, real procrastinate connector."""

from __future__ import annotations

import asyncio

from lakeport.db.engine import libpq_conninfo
from lakeport.jobs.worker import build_app
from lakeport.runtime import Runtime


def test_worker_connections_force_custom_plans(runtime: Runtime) -> None:
    async def setting() -> str:
        app = build_app(runtime)
        async with app.open_async():
            row = await app.connector.execute_query_one_async("SHOW plan_cache_mode")
        return str(row["plan_cache_mode"])

    assert asyncio.run(setting()) == "force_custom_plan"


def test_conninfo_options_join_those_the_url_has() -> None:
    url = "postgresql+psycopg://u@db:5432/x?options=-c%20work_mem%3D8MB&sslmode=disable"
    got = libpq_conninfo(url, options="-c plan_cache_mode=force_custom_plan")
    assert got == (
        "postgresql://u@db:5432/x?sslmode=disable"
        "&options=-c%20work_mem%3D8MB%20-c%20plan_cache_mode%3Dforce_custom_plan"
    )
    assert libpq_conninfo("postgresql+psycopg://u@db/x") == "postgresql://u@db/x"
