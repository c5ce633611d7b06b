import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from lakeport.errors import LakeportError
from lakeport.formats import ReadOptions, iceberg_type_name, inspect, read_batches

openpyxl = pytest.importorskip("openpyxl")
pytest.importorskip("python_calamine")


def workbook(tmp_path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    path = tmp_path / "upload.bin"
    wb.save(path)
    return path


def load(path: Path, options: ReadOptions | None = None):
    options = options or ReadOptions()
    found = inspect(path, options)
    batches = list(read_batches(path, found, options))
    for batch in batches:
        assert batch.schema.equals(found.schema)
    return found, pa.Table.from_batches(batches, schema=found.schema).to_pylist()


def test_first_sheet_with_header_and_types(tmp_path):
    path = workbook(
        tmp_path,
        {
            "Data": [
                ["ID", "Name", "Price", "When", "Day", "Flag", "Mixed"],
                [1, "a", 1.5, dt.datetime(2024, 1, 2, 3, 4), dt.date(2024, 1, 2), True, 1],
                [2, None, 2, dt.datetime(2024, 1, 3), dt.date(2024, 1, 3), False, "x"],
            ],
            "Other": [["x"], [42]],
        },
    )
    found, rows = load(path)
    assert found.format == "xlsx"
    assert found.row_count == 2
    assert {f.name: iceberg_type_name(f.type) for f in found.schema} == {
        "id": "long",
        "name": "string",
        "price": "double",
        "when": "timestamp",
        "day": "date",
        "flag": "boolean",
        "mixed": "string",
    }
    assert rows[1]["name"] is None
    assert [r["mixed"] for r in rows] == ["1", "x"]
    assert rows[1]["when"] == dt.datetime(2024, 1, 3)


def test_named_sheet(tmp_path):
    path = workbook(tmp_path, {"A": [["a"], [1]], "B": [["b"], ["x"]]})
    _found, rows = load(path, ReadOptions(sheet="B"))
    assert rows == [{"b": "x"}]
    with pytest.raises(LakeportError) as caught:
        inspect(path, ReadOptions(sheet="C"))
    assert caught.value.code == "bad_request"


def test_no_header_when_the_first_row_has_numbers(tmp_path):
    found, rows = load(workbook(tmp_path, {"S": [[1, "a"], [2, "b"]]}))
    assert found.schema.names == ["column_1", "column_2"]
    assert len(rows) == 2


def test_empty_sheet(tmp_path):
    with pytest.raises(LakeportError) as caught:
        inspect(workbook(tmp_path, {"S": []}))
    assert caught.value.code == "empty_file"
