import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeport.errors import LakeportError
from lakeport.formats import iceberg_type_name, inspect, parquet, read_batches


def write(tmp_path: Path, table: pa.Table, name: str = "f.parquet", **kwargs) -> Path:
    path = tmp_path / name
    pq.write_table(table, path, **kwargs)
    return path


def roundtrip(path: Path) -> tuple:
    found = inspect(path)
    batches = list(read_batches(path, found))
    for batch in batches:
        assert batch.schema.equals(found.schema)
    return found, pa.Table.from_batches(batches, schema=found.schema)


def test_footer_facts_and_renamed_columns(tmp_path):
    table = pa.table({"Order ID": [1, 2, 3], "Order ID ": ["a", "b", "c"]})
    found, data = roundtrip(write(tmp_path, table, row_group_size=2))
    assert found.format == "parquet"
    assert found.row_count == 3
    assert found.num_row_groups == 2
    assert found.original_names == ["Order ID", "Order ID "]
    assert found.schema.names == ["order_id", "order_id_2"]
    assert data.column("order_id").to_pylist() == [1, 2, 3]


def test_type_conversions(tmp_path):
    table = pa.table(
        {
            "ns": pa.array([1_500], pa.timestamp("ns")),
            "tz": pa.array([0], pa.timestamp("ms", tz="Europe/Paris")),
            "u32": pa.array([2**32 - 1], pa.uint32()),
            "u8": pa.array([255], pa.uint8()),
            "half": pa.array([1.5], pa.float32()).cast(pa.float16()),
            "dict": pa.array(["x"]).dictionary_encode(),
            "nothing": pa.nulls(1),
            "t": pa.array([1_000], pa.time64("ns")),
            "big": pa.array([Decimal("1.5")], pa.decimal256(40, 2)),
            "nested": pa.array([[{"at": 1}]], pa.list_(pa.struct([("at", pa.timestamp("ns"))]))),
            "m": pa.array([[("k", 1)]], pa.map_(pa.string(), pa.uint16())),
        }
    )
    found, data = roundtrip(write(tmp_path, table))
    names = {f.name: iceberg_type_name(f.type) for f in found.schema}
    assert names == {
        "ns": "timestamp",
        "tz": "timestamptz",
        "u32": "long",
        "u8": "int",
        "half": "float",
        "dict": "string",
        "nothing": "string",
        "t": "time",
        "big": "string",
        "nested": "list<struct<at: timestamp>>",
        "m": "map<string, int>",
    }
    row = data.to_pylist()[0]
    assert row["ns"].microsecond == 1
    assert row["big"] == "1.50"
    assert row["dict"] == "x"
    assert "ns" in found.details["conversions"]


def test_uint64_uses_footer_statistics(tmp_path):
    small = pa.table({"u": pa.array([1, 2], pa.uint64())})
    large = pa.table({"u": pa.array([1, 2**64 - 1], pa.uint64())})
    found_small, _ = roundtrip(write(tmp_path, small, "small.parquet"))
    found_large, data = roundtrip(write(tmp_path, large, "large.parquet"))
    assert found_small.schema.field("u").type == pa.int64()
    assert found_large.schema.field("u").type == pa.decimal128(20, 0)
    assert data.column("u").to_pylist()[1] == Decimal(2**64 - 1)


def test_uint64_without_statistics_is_decimal(tmp_path):
    table = pa.table({"u": pa.array([1], pa.uint64())})
    found, _ = roundtrip(write(tmp_path, table, write_statistics=False))
    assert found.schema.field("u").type == pa.decimal128(20, 0)


def test_uuid_is_kept(tmp_path):
    storage = pa.array([b"0123456789abcdef"], pa.binary(16))
    table = pa.table({"id": pa.ExtensionArray.from_storage(pa.uuid(), storage)})
    found, data = roundtrip(write(tmp_path, table))
    assert iceberg_type_name(found.schema.field("id").type) == "uuid"
    assert data.num_rows == 1


def test_garbage_with_parquet_magic_is_unreadable(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    with pytest.raises(LakeportError) as caught:
        inspect(path)
    assert caught.value.code == "unreadable_parquet"


def test_a_crashing_footer_reader_is_contained(tmp_path, monkeypatch):
    crasher = tmp_path / "crash.py"
    crasher.write_text("import os\nos.abort()\n")
    monkeypatch.setattr(parquet, "PROBE_SCRIPT", crasher)
    path = write(tmp_path, pa.table({"a": [1]}))
    with pytest.raises(LakeportError) as caught:
        inspect(path)
    assert caught.value.code == "unreadable_parquet"
    assert caught.value.details["exit_code"] != 0


@pytest.mark.skipif(sys.platform != "linux", reason="hangs are simulated with sleep")
def test_a_hanging_footer_reader_times_out(tmp_path, monkeypatch):
    sleeper = tmp_path / "sleep.py"
    sleeper.write_text("import time\ntime.sleep(30)\n")
    monkeypatch.setattr(parquet, "PROBE_SCRIPT", sleeper)
    monkeypatch.setattr(parquet, "PROBE_TIMEOUT_S", 0.5)
    with pytest.raises(LakeportError) as caught:
        inspect(write(tmp_path, pa.table({"a": [1]})))
    assert caught.value.code == "unreadable_parquet"


def test_huge_column_chunks_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(parquet, "MAX_CHUNK_BYTES", 10)
    with pytest.raises(LakeportError) as caught:
        inspect(write(tmp_path, pa.table({"a": ["x" * 100]})))
    assert caught.value.details["reason"] == "column_chunk_too_large"


def test_invalid_utf8_in_a_string_column_is_an_encoding_error(tmp_path):
    bad = pa.Array.from_buffers(
        pa.string(), 2, [None, pa.py_buffer(b"\0\0\0\0\1\0\0\0\2\0\0\0"), pa.py_buffer(b"a\xff")]
    )
    path = write(tmp_path, pa.table({"s": bad}))
    found = inspect(path)
    with pytest.raises(LakeportError) as caught:
        list(read_batches(path, found))
    assert caught.value.code == "encoding_error"
    assert caught.value.details == {
        "column": "s",
        "row": 2,
        "reason": caught.value.details["reason"],
    }


def test_batches_are_bounded(tmp_path):
    path = write(tmp_path, pa.table({"a": list(range(200_000))}))
    found = inspect(path)
    sizes = [b.num_rows for b in read_batches(path, found)]
    assert max(sizes) <= parquet.BATCH_ROWS
    assert sum(sizes) == 200_000


def test_decimal_wider_than_its_declared_precision_is_refused(tmp_path):
    wide = pa.array([Decimal("12345")], pa.decimal128(5, 0))
    narrow = pa.Array.from_buffers(pa.decimal128(3, 0), 1, wide.buffers())
    path = write(tmp_path, pa.table({"d": narrow}))
    found = inspect(path)
    with pytest.raises(LakeportError) as caught:
        list(read_batches(path, found))
    assert caught.value.code == "unreadable_parquet"
    assert caught.value.details["column"] == "d"


def test_timestamps_outside_years_1_to_9999_are_refused(tmp_path):
    far = pa.array([-(10**18) * 7], pa.timestamp("us"))
    path = write(tmp_path, pa.table({"t": far}))
    found = inspect(path)
    with pytest.raises(LakeportError) as caught:
        list(read_batches(path, found))
    assert caught.value.code == "unsupported_type"
