"""Typing a CSV from a sample: the result must be the whole-file pass's result, or
``TypesChanged`` when the sample chose differently (then the caller types in full)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from lakeport.formats import Inspection, TypesChanged, inspect, read_batches

SAMPLE = 1 << 20  # far less than the file: several blocks follow the sample
ROWS = 200_000  # about 7 MB of text


def _csv(tmp_path: Path, late: dict[str, str] | None = None, empty_early: bool = False) -> Path:
    """Columns id (int), price (float), day (date), code (zero-padded text), maybe
    (empty for the first two thirds, then whatever ``late`` says)."""
    late = late or {}
    path = tmp_path / "big.csv"
    with path.open("w") as out:
        out.write("id,price,day,code,maybe\n")
        for i in range(ROWS):
            maybe = "" if empty_early and i < ROWS * 2 // 3 else str(i % 7)
            row = {
                "id": str(i),
                "price": f"{i / 8:.3f}",
                "day": f"2024-01-{i % 28 + 1:02d}",
                "code": f"{i % 1000:05d}",
                "maybe": maybe,
            }
            if i == ROWS - 5:
                row.update(late)
            out.write(",".join(row.values()) + "\n")
    return path


def _read(path: Path, found: Inspection) -> pa.Table:
    return pa.Table.from_batches(list(read_batches(path, found)), schema=found.schema)


def test_a_file_whose_types_hold_is_read_once_and_matches_the_whole_file_pass(tmp_path):
    path = _csv(tmp_path)
    sampled = inspect(path, sample_bytes=SAMPLE)
    full = inspect(path)
    assert sampled.details["typed_from_sample"] is True and sampled.row_count is None
    assert sampled.schema.equals(full.schema)
    assert [str(f.type) for f in full.schema] == [
        "int64",
        "double",
        "date32[day]",
        "string",
        "int64",
    ]
    table = _read(path, sampled)
    assert table.equals(_read(path, full)) and table.num_rows == full.row_count == ROWS


@pytest.mark.parametrize(
    ("late", "column", "whole_file_type"),
    [
        ({"id": "n/a"}, "id", "string"),
        ({"id": "0042"}, "id", "string"),  # a leading zero makes it an identifier
        ({"price": "1e400x"}, "price", "string"),
        ({"day": "2024-01-02T10:00:00"}, "day", "timestamp[us]"),
        ({"id": "99999999999999999999"}, "id", "decimal128(38, 0)"),
    ],
)
def test_a_late_value_that_does_not_fit_the_sample_types_changes_them(
    tmp_path, late, column, whole_file_type
):
    path = _csv(tmp_path, late)
    sampled = inspect(path, sample_bytes=SAMPLE)
    assert str(sampled.schema.field(column).type) != whole_file_type
    with pytest.raises(TypesChanged):
        _read(path, sampled)
    assert str(inspect(path).schema.field(column).type) == whole_file_type


def test_a_column_empty_in_the_sample_is_typed_over_the_rest(tmp_path):
    path = _csv(tmp_path, empty_early=True)
    sampled = inspect(path, sample_bytes=SAMPLE)
    assert sampled.details["unseen_columns"] == [4]
    with pytest.raises(TypesChanged, match="empty in the sample"):
        _read(path, sampled)
    assert str(inspect(path).schema.field("maybe").type) == "int64"


def test_a_column_empty_in_the_sample_that_stays_text_needs_no_second_pass(tmp_path):
    path = _csv(tmp_path, late={"maybe": "x"}, empty_early=True)
    sampled = inspect(path, sample_bytes=SAMPLE)
    assert _read(path, sampled).num_rows == ROWS
    assert inspect(path).schema.equals(sampled.schema)


def test_a_file_smaller_than_the_sample_is_typed_in_full(tmp_path):
    path = tmp_path / "small.csv"
    path.write_text("a,b\n1,x\n2,y\n")
    found = inspect(path, sample_bytes=SAMPLE)
    assert found.row_count == 2 and "typed_from_sample" not in found.details
