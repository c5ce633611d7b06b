"""Driving uploads through the real API and the real pipeline, in-process.

The job queue itself is exercised by the end-to-end and crash tests; here the pipeline
runner is called directly for each queued upload, so a test reads top to bottom.
"""

from __future__ import annotations

from typing import Any

from lakeport.pipeline.runner import run_upload


def upload(
    api: Any, runtime: Any, coll: str, name: str, data: bytes, **fields: str
) -> dict[str, Any]:
    r = api.post(f"/v1/collections/{coll}/uploads", files={"file": (name, data)}, data=fields)
    assert r.status_code == 202, r.text
    run_upload(runtime, r.json()["id"])
    body: dict[str, Any] = api.get(f"/v1/uploads/{r.json()['id']}").json()
    return body


def collection(api: Any, name: str = "pipeline") -> str:
    r = api.post("/v1/collections", json={"name": name})
    assert r.status_code == 201, r.text
    coll: str = r.json()["id"]
    return coll


def rows_of(api: Any, dataset_id: str) -> list[dict[str, Any]]:
    body = api.get(f"/v1/datasets/{dataset_id}/rows", params={"limit": 10_000}).json()
    return [dict(zip(body["columns"], row, strict=True)) for row in body["rows"]]


def drain_jobs(runtime: Any, concurrency: int = 1, rounds: int = 200) -> None:
    """Run lakeport's real procrastinate worker until no job is left to run.

    A ``wait=False`` worker stops as soon as nothing is fetchable, which can happen
    while a job holding a lock is still queued behind another: so loop until the queue
    holds nothing runnable.
    """
    import asyncio

    from sqlalchemy import text

    from lakeport.jobs.worker import build_app

    async def run() -> None:
        app = build_app(runtime)
        async with app.open_async():
            await app.run_worker_async(
                wait=False,
                concurrency=concurrency,
                install_signal_handlers=False,
                additional_context={"runtime": runtime},
                listen_notify=False,
            )

    import time

    for _ in range(rounds):
        asyncio.run(run())
        with runtime.engine.connect() as conn:
            # Group commits are scheduled a moment ahead (sources.commit_wait_seconds):
            # those count as left, and the loop waits for them to fall due.
            due, later = conn.execute(
                text(
                    "SELECT count(*) FILTER (WHERE scheduled_at IS NULL OR scheduled_at <= now()),"
                    " count(*) FILTER (WHERE scheduled_at > now()"
                    "   AND scheduled_at <= now() + interval '30 seconds')"
                    " FROM procrastinate_jobs WHERE status IN ('todo', 'doing')"
                )
            ).one()
        if due == 0 and later == 0:
            return
        if due == 0:
            time.sleep(0.25)
    raise AssertionError(f"jobs still queued after {rounds} worker rounds")
