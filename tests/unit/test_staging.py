"""Staged Parquet files: several encoding lanes, deterministic names, nothing left
behind on failure, per-column encoding choices. Real files through pyiceberg's FileIO."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from pyiceberg.io.pyarrow import PyArrowFileIO

from lakeport.formats import Tabular
from lakeport.tables import staging
from lakeport.tables.staging import choose_encoding, write_staged

SCHEMA = pa.schema([("id", pa.int64()), ("country", pa.string()), ("comment", pa.string())])


def _text_batches(count: int, rows: int = 1000) -> Iterator[pa.RecordBatch]:
    """Raw batches as text, like the CSV reader's (``finish`` converts them)."""
    for b in range(count):
        ids = [str(b * rows + i) for i in range(rows)]
        yield pa.record_batch(
            [
                pa.array(ids),
                pa.array(["FR", "US", "ZA"] * (rows // 3) + ["FR"] * (rows % 3)),
                pa.array([f"free text number {i} " * 6 for i in ids]),
            ],
            names=["c0", "c1", "c2"],
        )


def _finish(data: Tabular) -> Tabular:
    arrays = [pc.cast(data.column(0), pa.int64()), data.column(1), data.column(2)]
    return type(data).from_arrays(arrays, schema=SCHEMA)


def _ids(path: str) -> list[int]:
    return pq.read_table(path).column("id").to_pylist()


@pytest.fixture
def small_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Row groups of about one raw batch, so a small input spans many groups."""
    monkeypatch.setattr(staging, "ROW_GROUP_BYTES", 1)


def _write(tmp_path: Path, batches: Iterator[pa.RecordBatch], **kwargs: object) -> list[str]:
    files = write_staged(PyArrowFileIO(), str(tmp_path), "u1", SCHEMA, batches, **kwargs)  # type: ignore[arg-type]
    return [f.path for f in files]


def test_two_lanes_write_every_row_once_in_deterministic_files(
    tmp_path: Path, small_groups: None
) -> None:
    paths = _write(tmp_path, _text_batches(7), lanes=2, finish=_finish)
    assert [Path(p).name for p in paths] == ["lp-u1-00000.parquet", "lp-u1-00001.parquet"]
    first, second = _ids(paths[0]), _ids(paths[1])
    assert sorted(first + second) == list(range(7000))
    # row group i went to lane i % 2, in order
    assert first == [i for g in (0, 2, 4, 6) for i in range(g * 1000, g * 1000 + 1000)]
    assert second == [i for g in (1, 3, 5) for i in range(g * 1000, g * 1000 + 1000)]
    again = _write(tmp_path, _text_batches(7), lanes=2, finish=_finish)
    assert again == paths and _ids(again[0]) == first
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == [Path(p).name for p in paths]


def test_lanes_roll_files_at_the_target_size(tmp_path: Path, small_groups: None) -> None:
    paths = _write(tmp_path, _text_batches(6), lanes=2, finish=_finish, target_file_bytes=1)
    assert [Path(p).name[-13:-8] for p in paths] == [
        "00000",
        "00001",
        "00002",
        "00003",
        "00004",
        "00005",
    ]
    # lane 0 writes 0, 2, 4; lane 1 writes 1, 3, 5; one row group each here
    assert [_ids(p)[0] for p in paths] == [0, 1000, 2000, 3000, 4000, 5000]


def test_a_small_input_is_one_file(tmp_path: Path) -> None:
    paths = _write(tmp_path, _text_batches(3), lanes=2, finish=_finish)
    assert len(paths) == 1 and _ids(paths[0]) == list(range(3000))


def test_an_empty_input_still_lands_its_schema(tmp_path: Path) -> None:
    paths = _write(tmp_path, iter([]), lanes=2, finish=_finish)
    assert len(paths) == 1
    table = pq.read_table(paths[0])
    assert table.num_rows == 0 and table.schema.equals(SCHEMA)


class Boom(Exception):
    pass


def test_a_failing_conversion_on_a_lane_leaves_no_file(tmp_path: Path, small_groups: None) -> None:
    def finish(batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.column(0)[0].as_py() == "5000":
            raise Boom("bad value")
        return _finish(batch)

    with pytest.raises(Boom):
        _write(tmp_path, _text_batches(9), lanes=2, finish=finish)
    assert list((tmp_path / "data").iterdir()) == []


def test_a_failing_reader_leaves_no_file(tmp_path: Path, small_groups: None) -> None:
    def batches() -> Iterator[pa.RecordBatch]:
        yield from _text_batches(5)
        raise Boom("truncated file")

    with pytest.raises(Boom):
        _write(tmp_path, batches(), lanes=2, finish=_finish)
    assert list((tmp_path / "data").iterdir()) == []


def test_encoding_keeps_dictionaries_for_repeats_and_skips_long_text_statistics(
    tmp_path: Path,
) -> None:
    group = [pa.record_batch(_finish(b)) for b in _text_batches(2)]
    chosen = choose_encoding(pa.Table.from_batches(group))
    assert chosen.dictionary == ["country"]
    assert chosen.statistics == ["id", "country"]
    (path,) = _write(tmp_path, iter(group), lanes=2)
    meta = pq.ParquetFile(path).metadata.row_group(0)
    columns = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    assert any("DICTIONARY" in e for e in columns["country"].encodings)
    assert not any("DICTIONARY" in e for e in columns["id"].encodings)
    assert columns["id"].statistics is not None and columns["id"].statistics.has_min_max
    assert columns["comment"].statistics is None or not columns["comment"].statistics.has_min_max


def test_nested_columns_keep_the_defaults() -> None:
    batch = pa.record_batch([pa.array([{"a": 1}, {"a": 2}])], names=["s"])
    assert choose_encoding(pa.Table.from_batches([batch])) == staging.Encoding()


def test_adding_a_file_without_long_text_statistics_logs_no_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """pyiceberg reads every staged footer when the files are added to a table; the
    statistics left out on purpose must not read as a problem in the worker's log."""
    from pyiceberg.io.pyarrow import parquet_file_to_data_file
    from pyiceberg.partitioning import UNPARTITIONED_PARTITION_SPEC
    from pyiceberg.schema import Schema
    from pyiceberg.table.metadata import new_table_metadata
    from pyiceberg.table.sorting import UNSORTED_SORT_ORDER
    from pyiceberg.types import LongType, NestedField, StringType

    (path,) = _write(tmp_path, _text_batches(2), lanes=1, finish=_finish)
    meta = pq.ParquetFile(path).metadata.row_group(0)
    assert not meta.column(2).is_stats_set  # long text: written without statistics
    schema = Schema(
        NestedField(1, "id", LongType()),
        NestedField(2, "country", StringType()),
        NestedField(3, "comment", StringType()),
    )
    table = new_table_metadata(
        schema, UNPARTITIONED_PARTITION_SPEC, UNSORTED_SORT_ORDER, str(tmp_path), {}
    )
    with caplog.at_level("WARNING"):
        data_file = parquet_file_to_data_file(PyArrowFileIO(), table, path)
    assert data_file.record_count == 2000
    assert not [r for r in caplog.records if r.levelname == "WARNING"]
