"""Reading on a second thread: the parser fills a small queue while the caller works.

pyarrow's parser and its compute functions and Parquet writer release the GIL, so on
two cores a parse and whatever consumes it overlap instead of alternating. A consumer
that stops early may close the read or detach it: take back the rest, batches already
read ahead first, and continue (or hand it on) on its own thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from queue import Empty, Full, Queue

import pyarrow as pa

#: Batches read ahead of the consumer (bounded: memory stays a few batches).
READ_AHEAD = 2
_END = object()


class ReadAhead(Iterator[pa.RecordBatch]):
    """``batches`` produced on a second thread, consumed on this one. A reader error is
    re-raised in the consumer. :meth:`close` stops the reader and closes ``batches`` (a
    generator's open file); :meth:`detach` stops it and hands back the rest unread."""

    def __init__(self, batches: Iterable[pa.RecordBatch]) -> None:
        self._source = iter(batches)
        self._queue: Queue[object] = Queue(maxsize=READ_AHEAD)
        self._stop = threading.Event()
        self._unsent: list[object] = []  # what the reader held when told to stop
        self._ended = False
        self._detached = False
        self._thread = threading.Thread(target=self._produce, name="lakeport-read-ahead")
        self._thread.daemon = True
        self._thread.start()

    def __next__(self) -> pa.RecordBatch:
        if self._ended:
            raise StopIteration
        item = self._queue.get()
        return self._deliver(item)

    def _deliver(self, item: object) -> pa.RecordBatch:
        if item is _END or isinstance(item, BaseException):
            self._ended = True
            if item is _END:
                raise StopIteration
            raise item  # type: ignore[misc]
        return item

    def detach(self) -> Iterator[pa.RecordBatch]:
        """Stop reading ahead and return the remaining batches, in order: those already
        read ahead, then the rest of ``batches``, read on the caller's thread. Lets a
        caller stop early and hand the open read to someone else instead of closing it."""
        self._halt()
        pending: list[object] = []
        while True:
            try:
                pending.append(self._queue.get_nowait())
            except Empty:
                break
        pending += self._unsent
        self._ended = self._detached = True
        return _resume(pending, self._source)

    def close(self) -> None:
        """Stop the reader and close ``batches`` (unless detached); idempotent."""
        self._halt()
        self._ended = True
        if not self._detached:
            _close(self._source)

    def _halt(self) -> None:
        self._stop.set()
        self._thread.join()

    def _produce(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    item: object = next(self._source)
                except StopIteration:
                    item = _END
                if not self._offer(item) or item is _END:
                    return
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._offer(exc)

    def _offer(self, item: object) -> bool:
        """Queue ``item``; once told to stop, keep it aside for :meth:`detach` instead."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except Full:
                continue
        self._unsent.append(item)
        return False


def _resume(pending: list[object], source: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    try:
        for item in pending:
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
        yield from source
    finally:
        _close(source)


def _close(source: Iterator[pa.RecordBatch]) -> None:
    close = getattr(source, "close", None)
    if close is not None:  # a generator left early: its file closes now
        close()


@contextmanager
def read_ahead(batches: Iterable[pa.RecordBatch]) -> Iterator[ReadAhead]:
    """A :class:`ReadAhead` over ``batches``, closed when the block ends (after a
    :meth:`~ReadAhead.detach` the detached rest is the caller's to finish or close)."""
    ahead = ReadAhead(batches)
    try:
        yield ahead
    finally:
        ahead.close()
