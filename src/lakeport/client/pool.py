"""Running an upload's part jobs on a few threads while the calling thread reports progress.

Threads, not asyncio: the work is blocking file reads and HTTP PUTs that release the
GIL, the public client is synchronous, and a pool of ``concurrency`` threads bounds
memory (each holds one 1 MiB chunk at a time) as well as connections.

The calling thread only waits and reports. Every worker failure, and anything the
calling thread raises itself (Ctrl-C, a progress callback that raises), sets the shared
stop event: queued jobs are cancelled, running ones stop at their next chunk, and the
first real error is raised once every thread has let go of the file.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from lakeport.client.transfer import Meter, Stopped

T = TypeVar("T")
REPORT_EVERY = 0.2


def run_jobs(
    jobs: Sequence[Callable[[], T]],
    concurrency: int,
    meter: Meter,
    stop: threading.Event,
) -> list[T]:
    """Run ``jobs`` on ``concurrency`` threads; results in job order, or the first error."""
    if not jobs:
        return []
    executor = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="lakeport")
    futures = [executor.submit(job) for job in jobs]
    try:
        _wait_all(futures, meter)
    except BaseException:
        stop.set()
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
    meter.report()
    return [f.result() for f in futures]


def _wait_all(futures: list[Future[T]], meter: Meter) -> None:
    pending: set[Future[T]] = set(futures)
    while pending:
        # every finished part is reported at once (and at least every REPORT_EVERY seconds)
        done, pending = wait(pending, timeout=REPORT_EVERY, return_when=FIRST_COMPLETED)
        meter.report()
        for future in done:
            error = future.exception()
            if error is not None and not isinstance(error, Stopped):
                raise error
