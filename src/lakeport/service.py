"""Process orchestration for ``lakeport serve`` and ``lakeport worker``.

``serve`` runs the API (uvicorn) and N workers in one event loop; ``worker`` runs only
workers. SIGTERM or SIGINT stops both cleanly: the API stops accepting requests, jobs in
flight are given ``worker.shutdown_grace_seconds`` to finish (or are handed back to the
queue), and the embedded PostgreSQL is stopped when its last user leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Coroutine, Iterator
from typing import Any

import uvicorn

from lakeport.accounts import bootstrap
from lakeport.api.app import create_app
from lakeport.config import Settings
from lakeport.db.embedded import stop_embedded
from lakeport.jobs.worker import run_workers
from lakeport.runtime import Runtime

logger = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: lakeport stops API and workers together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    """Run the API and ``workers`` in-process workers until a stop signal."""
    runtime = Runtime.build(settings)
    try:
        boot = bootstrap(runtime)
        if boot.token:
            print(
                f"lakeport: first start. Admin API token (shown once, also in "
                f"{boot.token_file}):\n{boot.token}",
                flush=True,
            )
        asyncio.run(_serve_async(runtime, host, port, workers))
    finally:
        _shutdown(runtime)


def work(settings: Settings, concurrency: int) -> None:
    """Run workers only (scale-out), until a stop signal."""
    runtime = Runtime.build(settings)
    try:
        asyncio.run(_until_signal(run_workers(runtime, concurrency)))
    finally:
        _shutdown(runtime)


async def _serve_async(runtime: Runtime, host: str, port: int, workers: int) -> None:
    config = uvicorn.Config(
        create_app(runtime), host=host, port=port, log_level="info", lifespan="off"
    )
    server = _Server(config)
    tasks = [asyncio.create_task(server.serve())]
    if workers > 0:
        tasks.append(asyncio.create_task(run_workers(runtime, workers)))
    stop = asyncio.Event()
    _install_stop(stop)
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([*tasks, waiter], return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    for task in tasks[1:]:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    waiter.cancel()


async def _until_signal(coro: Coroutine[Any, Any, None]) -> None:
    task = asyncio.ensure_future(coro)
    stop = asyncio.Event()
    _install_stop(stop)
    waiter = asyncio.create_task(stop.wait())
    await asyncio.wait([task, waiter], return_when=asyncio.FIRST_COMPLETED)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    waiter.cancel()


def _install_stop(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def _shutdown(runtime: Runtime) -> None:
    runtime.close()
    if runtime.settings.database_url is None:
        stop_embedded(runtime.settings.resolved_data_dir())
