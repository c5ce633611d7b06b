"""Reading on a second thread: the parser fills a small queue while the caller works.

pyarrow's parser and its compute functions and Parquet writer release the GIL, so on
two cores a parse and whatever consumes it overlap instead of alternating.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from queue import Empty, Full, Queue

import pyarrow as pa

#: Batches read ahead of the consumer (bounded: memory stays a few batches).
READ_AHEAD = 2


@contextmanager
def read_ahead(batches: Iterable[pa.RecordBatch]) -> Iterator[Iterator[pa.RecordBatch]]:
    """``batches`` produced on a second thread, consumed on this one. A reader error is
    re-raised in the consumer; leaving early stops the reader and closes ``batches``
    (a generator's open file) on the reader's thread."""
    queue: Queue[pa.RecordBatch | BaseException | None] = Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        queue.put(batch, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            queue.put(exc)
        finally:
            close = getattr(batches, "close", None)
            if close is not None:  # a generator left early: its file closes now, here
                close()

    def consume() -> Iterator[pa.RecordBatch]:
        while (item := queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    thread = threading.Thread(target=produce, name="lakeport-read-ahead", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        while thread.is_alive():
            try:
                queue.get_nowait()
            except Empty:
                thread.join(0.05)
