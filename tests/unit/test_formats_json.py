import gzip
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from lakeport.errors import LakeportError
from lakeport.formats import (
    Inspection,
    ReadOptions,
    Reject,
    iceberg_type_name,
    inspect,
    json_stream,
    read_batches,
)


def write(tmp_path: Path, data: bytes | str) -> Path:
    path = tmp_path / "data.json"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def load(path: Path) -> tuple[Inspection, list[dict]]:
    found = inspect(path)
    assert found.format == "json"
    batches = list(read_batches(path, found))
    for batch in batches:
        assert batch.schema.equals(found.schema)
    rows = pa.Table.from_batches(batches, schema=found.schema).to_pylist()
    assert len(rows) == found.row_count
    return found, rows


def names(found: Inspection) -> dict[str, str]:
    return {f.name: iceberg_type_name(f.type) for f in found.schema}


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}\n{"a": 2}\n',
        '{"a": 1}\r\n{"a": 2}',
        '{"a": 1}{"a": 2}',
        '[{"a": 1}, {"a": 2}]',
        '[{"a": 1}]\n[{"a": 2}]',
        '\ufeff[\n  {"a": 1},\n  {"a": 2}\n]\n',
    ],
)
def test_record_shapes(tmp_path, text):
    _found, rows = load(write(tmp_path, text))
    assert rows == [{"a": 1}, {"a": 2}]


def test_rows_as_arrays_with_a_header(tmp_path):
    found, rows = load(write(tmp_path, '[["id", "name"], [1, "a"], [2, "b"]]'))
    assert found.original_names == ["id", "name"]
    assert rows == [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]


def test_nested_and_widened_types(tmp_path):
    records = [
        {"id": 1, "n": 1, "tags": ["x"], "user": {"name": "a"}, "v": "s", "big": 1},
        {"id": 2, "n": 2.5, "tags": [], "user": {"name": "b", "age": 3}, "v": {"k": 1}},
        {"id": 3, "n": None, "user": None, "v": 7, "big": 2**70},
    ]
    path = write(tmp_path, "\n".join(json.dumps(r) for r in records))
    found, rows = load(path)
    assert names(found) == {
        "id": "long",
        "n": "double",
        "tags": "list<string>",
        "user": "struct<name: string, age: long>",
        "v": "string",
        "big": "decimal(38,0)",
    }
    assert [r["v"] for r in rows] == ["s", '{"k":1}', "7"]
    assert rows[1]["user"] == {"name": "b", "age": 3}
    assert rows[0]["user"] == {"name": "a", "age": None}
    assert rows[2]["big"] == Decimal(2**70)
    assert rows[2]["tags"] is None


def test_type_changes_late_in_the_file_widen_instead_of_failing(tmp_path):
    lines = [json.dumps({"id": i}) for i in range(100_000)] + ['{"id": "x"}']
    found, rows = load(write(tmp_path, "\n".join(lines)))
    assert names(found) == {"id": "string"}
    assert rows[0]["id"] == "0" and rows[-1]["id"] == "x"


def test_keys_equal_up_to_case(tmp_path):
    found, rows = load(write(tmp_path, '{"id": 1, "ID": 2, "o": {"k": 1, "K": 2}}'))
    assert found.schema.names == ["id", "id_2", "o"]
    assert names(found)["o"] == "struct<k: long, K_2: long>"
    assert rows == [{"id": 1, "id_2": 2, "o": {"k": 1, "K_2": 2}}]


def test_float_column_with_huge_integers(tmp_path):
    found, rows = load(write(tmp_path, '{"x": 1.5}\n{"x": 100000000000000000000}'))
    assert names(found) == {"x": "double"}
    assert rows[1]["x"] == 1e20


def test_empty_objects_and_lists(tmp_path):
    found, rows = load(write(tmp_path, '{"a": {}, "b": [], "c": 1}'))
    assert names(found) == {"a": "string", "b": "list<string>", "c": "long"}
    assert rows == [{"a": "{}", "b": [], "c": 1}]


def test_deep_nesting_is_kept_as_text(tmp_path):
    deep = "[" * 40 + "1" + "]" * 40
    _found, rows = load(write(tmp_path, '{"d": ' + deep + "}"))
    assert rows[0]["d"] is not None


@pytest.mark.parametrize(
    ("text", "line"),
    [('{"a": 1}\n{"a": 2} TRAILER\n', 2), ('{"a": 1}\n{"a": \n', 3), ('[{"a": 1},]', 1)],
)
def test_malformed_json_is_a_parse_error_with_position(tmp_path, text, line):
    with pytest.raises(LakeportError) as caught:
        inspect(write(tmp_path, text))
    assert caught.value.code == "parse_error"
    assert caught.value.details["line"] == line


def test_nesting_bomb_is_a_parse_error(tmp_path):
    with pytest.raises(LakeportError) as caught:
        inspect(write(tmp_path, "[" * 100_000))
    assert caught.value.code == "parse_error"


def test_bare_values_are_not_records(tmp_path):
    with pytest.raises(LakeportError) as caught:
        inspect(write(tmp_path, '{"a": 1}\n[1, 2]\n'))
    assert caught.value.code == "parse_error"
    with pytest.raises(LakeportError) as caught:
        inspect(write(tmp_path, '[{"a": 1}, 3]'))
    assert caught.value.code == "unsupported_format"


@pytest.mark.parametrize("text", ["[]", "  \n", "[[], []]"])
def test_empty(tmp_path, text):
    with pytest.raises(LakeportError) as caught:
        inspect(write(tmp_path, text))
    assert caught.value.code == "empty_file"


def test_invalid_utf8_is_an_encoding_error_with_offset(tmp_path):
    with pytest.raises(LakeportError) as caught:
        inspect(write(tmp_path, b'{"a": "ok"}\n{"a": "\xff"}\n'))
    assert caught.value.code == "encoding_error"
    assert caught.value.details["offset"] == 19


def test_invalid_utf8_after_the_head(tmp_path):
    head = b'{"a": "\xc3\xa9"}\n' * 200_000
    with pytest.raises(LakeportError) as caught:
        inspect(write(tmp_path, head + b'{"a": "\xff"}\n'))
    assert caught.value.details["offset"] == len(head) + 7


def test_utf16_with_bom(tmp_path):
    _found, rows = load(write(tmp_path, '[{"name": "Zoë"}]'.encode("utf-16")))
    assert rows == [{"name": "Zoë"}]


def test_gzip(tmp_path):
    found, rows = load(write(tmp_path, gzip.compress(b'{"a": 1}\n{"a": 2}\n')))
    assert found.details["compression"] == "gzip"
    assert len(rows) == 2


def test_records_span_chunk_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(json_stream, "CHUNK_BYTES", 7)
    text = "[" + ",".join(json.dumps({"n": 12345 + i, "s": "é" * 5}) for i in range(50)) + "]"
    _found, rows = load(write(tmp_path, text))
    assert [r["n"] for r in rows] == [12345 + i for i in range(50)]


def test_batches_are_bounded(tmp_path):
    text = "\n".join(json.dumps({"i": i}) for i in range(70_000))
    path = write(tmp_path, text)
    found = inspect(path)
    sizes = [b.num_rows for b in read_batches(path, found)]
    assert sizes == [65_536, 70_000 - 65_536]


# --- on_error: skip_row ----------------------------------------------------------------

SKIP = ReadOptions(on_error="skip_row")

BROKEN_NDJSON = (
    '{"id": 1, "v": 1.5}\n'
    '{"id": 2, "v": \n'  # truncated: the decoder only notices on the next line
    '{"id": 3, "v": 3.5}\n'
    '"just text"\n'  # decodes, but is not an object: would make nothing a column
    "[4, 4.5]\n"  # a row array among objects
    '{"id": "five" "v": 5}\n'
    '{"id": 6, "v": 6.5}\n'
    '{"id": 7'  # cut off at the end of the file
)


def skip_load(path: Path) -> tuple[Inspection, list[dict], list[Reject]]:
    found = inspect(path, SKIP)
    rejects: list[Reject] = []
    batches = list(read_batches(path, found, SKIP, on_reject=rejects.append))
    rows = pa.Table.from_batches(batches, schema=found.schema).to_pylist()
    assert len(rows) == found.row_count
    assert found.details["rows_rejected"] == len(rejects)
    return found, rows, rejects


def test_skip_row_leaves_broken_lines_out_and_reports_them(tmp_path):
    found, rows, rejects = skip_load(write(tmp_path, BROKEN_NDJSON))
    assert names(found) == {"id": "long", "v": "double"}  # "five" never widened id
    assert rows == [{"id": 1, "v": 1.5}, {"id": 3, "v": 3.5}, {"id": 6, "v": 6.5}]
    assert [(r.line, r.column, r.value) for r in rejects] == [
        (2, None, '{"id": 2, "v": '),
        (4, None, '"just text"'),
        (5, None, "[4, 4.5]"),
        (6, None, '{"id": "five" "v": 5}'),
        (8, None, '{"id": 7'),
    ]
    assert "invalid JSON at line 4, column 1" in rejects[0].reason  # where it noticed
    assert rejects[1].reason == "a bare str, not an object"
    assert rejects[2].reason == "an array where the records are objects"
    assert "Expecting ',' delimiter" in rejects[3].reason


def test_skip_row_resynchronises_across_chunk_boundaries(tmp_path, monkeypatch):
    expected = skip_load(write(tmp_path, BROKEN_NDJSON))
    monkeypatch.setattr(json_stream, "CHUNK_BYTES", 7)
    assert skip_load(write(tmp_path, BROKEN_NDJSON)) == expected


def test_skip_row_rows_of_the_wrong_length_name_the_missing_column(tmp_path):
    text = '["id", "name"]\n[1, "a"]\n[2]\n[3, "c", "extra"]\n{"id": 4}\n[5, "e"]\n'
    _found, rows, rejects = skip_load(write(tmp_path, text))
    assert rows == [{"id": 1, "name": "a"}, {"id": 5, "name": "e"}]
    assert [(r.line, r.column, r.value) for r in rejects] == [
        (3, "name", "[2]"),
        (4, None, '[3, "c", "extra"]'),
        (5, None, '{"id": 4}'),
    ]


def test_skip_row_inside_a_top_level_array_a_syntax_error_stays_fatal(tmp_path):
    with pytest.raises(LakeportError) as caught:
        inspect(write(tmp_path, '[{"a": 1},\n {"a": 2 "b": 3},\n {"a": 4}]'), SKIP)
    assert caught.value.code == "parse_error" and caught.value.details["line"] == 2


def test_skip_row_bare_values_inside_an_array_are_rejects(tmp_path):
    _found, rows, rejects = skip_load(write(tmp_path, '[{"a": 1},\n 3,\n {"a": 4}]'))
    assert rows == [{"a": 1}, {"a": 4}]
    assert [(r.line, r.value) for r in rejects] == [(2, "3")]


def test_skip_row_with_nothing_good_is_an_empty_file_saying_why(tmp_path):
    with pytest.raises(LakeportError) as caught:
        inspect(write(tmp_path, '{"a" 1}\n"x"\n{broken\n'), SKIP)
    assert caught.value.code == "empty_file"
    assert "3 rows rejected" in caught.value.message


def test_skip_row_without_a_reject_handler_still_fails(tmp_path):
    path = write(tmp_path, '{"a": 1}\n{"a": \n{"a": 3}\n')
    found = inspect(path, SKIP)
    with pytest.raises(LakeportError) as caught:
        list(read_batches(path, found, SKIP))
    assert caught.value.code == "parse_error"


def test_abort_errors_name_line_column_and_value(tmp_path):
    with pytest.raises(LakeportError) as caught:
        inspect(write(tmp_path, '{"a": 1}\n{"a": 2}\n{"a": 3 x}\n'))
    assert caught.value.details == {"line": 3, "column": 9, "value": "x}\n"}
    assert "line 3, column 9" in caught.value.message
    with pytest.raises(LakeportError) as caught:
        inspect(write(tmp_path, '{"a": 1}\n\n[1, 2]\n'))
    assert caught.value.details["line"] == 3
    assert caught.value.details["value"] == "[1, 2]"
    assert "line 3" in caught.value.message


def test_a_bad_line_is_found_without_reading_the_rest_of_the_file(tmp_path, monkeypatch):
    """The failure is final before the line break: no refill up to MAX_RECORD_CHARS."""
    fills = []
    original = json_stream._Buffer.fill

    def counting(self: json_stream._Buffer) -> bool:
        fills.append(1)
        return original(self)

    monkeypatch.setattr(json_stream, "CHUNK_BYTES", 64)
    monkeypatch.setattr(json_stream._Buffer, "fill", counting)
    body = '{"a": oops}\n' + '{"a": 1}\n' * 10_000
    with pytest.raises(LakeportError):
        inspect(write(tmp_path, body))
    assert len(fills) < 5


def test_skip_row_resumes_after_a_bad_line_with_cr_line_endings(tmp_path):
    _found, rows, rejects = skip_load(write(tmp_path, '{"a": 1}\r{"a": \r{"a": 3}\r'))
    assert rows == [{"a": 1}, {"a": 3}]
    assert len(rejects) == 1
    assert rejects[0].value == '{"a": '
