"""The typing sample carried from infer to convert: inside a job, convert starts from the
typing pass's parsed batches and open reader instead of reading the file again, and the
rows are the same as a read from the start; outside a job nothing is kept open."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from lakeport.formats import carry_over, inspect
from lakeport.formats import csv as csv_module
from lakeport.formats.carry_over import carry_samples
from tests.unit.test_formats_csv_sample import SAMPLE, _csv, _read


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts reads of a CSV from its first data row."""
    calls: list[int] = []
    real = csv_module.string_batches

    def counting(*args: object, **kwargs: object) -> Iterator[pa.RecordBatch]:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(csv_module, "string_batches", counting)
    return calls


def test_inside_a_job_convert_continues_the_typing_pass_read(
    tmp_path: Path, opened: list[int]
) -> None:
    path = _csv(tmp_path)
    expected = _read(path, inspect(path, sample_bytes=SAMPLE))  # no job: read from the start
    assert len(opened) == 2
    with carry_samples():
        sampled = inspect(path, sample_bytes=SAMPLE)
        table = _read(path, sampled)
        assert len(opened) == 3  # the typing pass's read, and no other
        again = _read(path, sampled)  # carried once only: a second read starts over
        assert len(opened) == 4
    assert table.equals(expected) and again.equals(expected)


def test_a_different_read_is_not_served_from_the_carried_one(
    tmp_path: Path, opened: list[int]
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = _csv(tmp_path / "a"), _csv(tmp_path / "b", late={"code": "x"})
    found = inspect(second, sample_bytes=SAMPLE)  # outside a job: not carried
    with carry_samples():
        inspect(first, sample_bytes=SAMPLE)
        table = _read(second, found)
    assert len(opened) == 3  # two typing passes, and the second file read from its start
    assert "x" in table.column("code").to_pylist()


def test_a_file_within_the_sample_carries_nothing(tmp_path: Path, opened: list[int]) -> None:
    path = _csv(tmp_path)
    with carry_samples():
        whole = inspect(path, sample_bytes=10 * path.stat().st_size)
        assert whole.row_count is not None
        _read(path, whole)
    assert len(opened) == 2


class _Rest:
    def __init__(self) -> None:
        self.closed = False

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self

    def __next__(self) -> pa.RecordBatch:
        raise StopIteration

    def close(self) -> None:
        self.closed = True


def test_a_read_never_taken_is_closed_when_the_job_ends() -> None:
    rest = _Rest()
    with carry_samples():
        carry_over.offer(("key",), [], rest)
        assert not rest.closed
    assert rest.closed


def test_outside_a_job_an_offered_read_is_closed_at_once() -> None:
    rest = _Rest()
    assert not carry_over.carrying()
    carry_over.offer(("key",), [], rest)
    assert rest.closed
    assert carry_over.take(("key",)) is None
