"""Reading ahead on a second thread: every batch once and in order, errors where they
happened, the source closed when the consumer leaves, and a detached rest that carries on
exactly where the consumer stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pytest

from lakeport.formats.read_ahead import READ_AHEAD, ReadAhead, read_ahead


class Source:
    """A generator of numbered batches that records whether it was closed."""

    def __init__(self, count: int, fail_at: int | None = None) -> None:
        self.count = count
        self.fail_at = fail_at
        self.closed = False
        self.produced = 0

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        try:
            for i in range(self.count):
                if i == self.fail_at:
                    raise ValueError(f"bad batch {i}")
                self.produced += 1
                yield pa.record_batch([pa.array([i])], names=["n"])
        finally:
            self.closed = True


def _numbers(batches: Iterator[pa.RecordBatch]) -> list[int]:
    return [batch.column(0)[0].as_py() for batch in batches]


def test_every_batch_arrives_once_in_order_and_the_source_is_closed() -> None:
    source = Source(50)
    with read_ahead(iter(source)) as ahead:
        assert _numbers(ahead) == list(range(50))
    assert source.closed


def test_leaving_early_closes_the_source_without_reading_it_all() -> None:
    source = Source(1000)
    with read_ahead(iter(source)) as ahead:
        assert _numbers(next(ahead) for _ in range(3)) == [0, 1, 2]
    assert source.closed
    assert source.produced < 1000


def test_an_error_reaches_the_consumer_after_the_batches_before_it() -> None:
    source = Source(10, fail_at=4)
    seen: list[int] = []
    with read_ahead(iter(source)) as ahead, pytest.raises(ValueError, match="bad batch 4"):
        for batch in ahead:
            seen.append(batch.column(0)[0].as_py())
    assert seen == [0, 1, 2, 3]


@pytest.mark.parametrize("taken", [0, 1, 7, 49, 50])
def test_detach_hands_back_the_rest_exactly_where_the_consumer_stopped(taken: int) -> None:
    source = Source(50)
    with read_ahead(iter(source)) as ahead:
        first = _numbers(next(ahead) for _ in range(taken))
        rest = ahead.detach()
    if taken + READ_AHEAD + 1 < 50:  # the reader cannot have reached the end itself
        assert not source.closed  # so the block's end left the detached read open
    assert first + _numbers(rest) == list(range(50))
    assert source.closed  # finishing the rest closes it


def test_a_detached_rest_closed_early_closes_the_source() -> None:
    source = Source(1000)
    ahead = ReadAhead(iter(source))
    next(ahead)
    rest = ahead.detach()
    next(rest)
    rest.close()  # type: ignore[attr-defined]
    assert source.closed


def test_an_error_read_ahead_before_detaching_is_raised_from_the_rest() -> None:
    source = Source(10, fail_at=3)
    ahead = ReadAhead(iter(source))
    assert _numbers([next(ahead)]) == [0]
    rest = ahead.detach()
    seen: list[int] = []
    with pytest.raises(ValueError, match="bad batch 3"):
        for batch in rest:
            seen.append(batch.column(0)[0].as_py())
    assert seen == [1, 2]
