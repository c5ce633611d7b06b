import gzip
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from lakeport.errors import LakeportError
from lakeport.formats import Inspection, ReadOptions, Reject, inspect, read_batches


def write(tmp_path: Path, data: bytes | str, name: str = "f.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def load(path: Path, options: ReadOptions | None = None) -> tuple[Inspection, pa.Table]:
    options = options or ReadOptions()
    found = inspect(path, options)
    batches = list(read_batches(path, found, options))
    for batch in batches:
        assert batch.schema.equals(found.schema)
    table = pa.Table.from_batches(batches, schema=found.schema)
    assert table.num_rows == found.row_count
    return found, table


def types(found: Inspection) -> dict[str, str]:
    return {f.name: str(f.type) for f in found.schema}


def error(path: Path, options: ReadOptions | None = None) -> LakeportError:
    options = options or ReadOptions()
    with pytest.raises(LakeportError) as caught:
        found = inspect(path, options)
        list(read_batches(path, found, options))
    return caught.value


@pytest.mark.parametrize("delimiter", [",", ";", "|", "\t"])
def test_sniffs_the_delimiter(tmp_path, delimiter):
    text = delimiter.join(["a", "b", "c"]) + "\n" + delimiter.join(["1", "x,y", "3"]) + "\n"
    if delimiter == ",":
        text = 'a,b,c\n1,"x,y",3\n'
    found, table = load(write(tmp_path, text))
    assert found.details["delimiter"] == delimiter
    assert found.format == ("tsv" if delimiter == "\t" else "csv")
    assert table.column("b").to_pylist() == ["x,y"]


def test_pipe_file_with_commas_in_values_prefers_the_consistent_delimiter(tmp_path):
    text = "text|number\n" + "foo|123,000\n" * 50
    found, table = load(write(tmp_path, text))
    assert found.details["delimiter"] == "|"
    assert table.column("number").to_pylist()[0] == "123,000"


def test_quoted_newlines_are_values_not_rows(tmp_path):
    rows = "".join(f'{i},"line one\nline two {i}"\n' for i in range(100))
    found, table = load(write(tmp_path, "i,'world'\n" + rows))
    assert found.row_count == 100
    assert found.original_names == ["i", "'world'"]
    assert found.schema.names == ["i", "_world_"]
    assert table.column("_world_")[0].as_py() == "line one\nline two 0"


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_endings(tmp_path, eol):
    _found, table = load(write(tmp_path, eol.join(["a,b", "1,x", "2,y"]) + eol))
    assert table.to_pydict() == {"a": [1, 2], "b": ["x", "y"]}


def test_utf8_bom_is_skipped(tmp_path):
    found, table = load(write(tmp_path, b"\xef\xbb\xbfid,name\n1,caf\xc3\xa9\n"))
    assert found.original_names == ["id", "name"]
    assert table.column("name").to_pylist() == ["café"]


def test_header_absent_when_first_row_fits_the_column_types(tmp_path):
    found, table = load(write(tmp_path, "1|a|2020-01-01\n2|b|2020-01-02\n"))
    assert found.details["header"] is False
    assert found.schema.names == ["column_1", "column_2", "column_3"]
    assert table.num_rows == 2


def test_header_option_overrides_sniffing(tmp_path):
    path = write(tmp_path, "a,b\nc,d\n")
    assert load(path)[0].row_count == 1
    assert load(path, ReadOptions(header=False))[0].row_count == 2


def test_delimiter_option_overrides_sniffing(tmp_path):
    found, _table = load(write(tmp_path, "a;b,c\n1;2,3\n"), ReadOptions(delimiter=";"))
    assert found.schema.names == ["a", "b_c"]


def test_type_inference(tmp_path):
    text = (
        "i,f,zip,flag,d,ts,tz,mixed,empty,big\n"
        "1,1.5,09001,true,2024-01-31,2024-01-31 10:00:00,2024-01-31T10:00:00Z,1,,"
        "99999999999999999999\n"
        "-2,NaN,10001,FALSE,2024-02-29,2024-02-29T23:59:59.123456,2024-01-31T10:00:00+02:00,"
        "x,,1\n"
        "NA,,NULL,,,,,,,\n"
    )
    found, table = load(write(tmp_path, text))
    assert types(found) == {
        "i": "int64",
        "f": "double",
        "zip": "string",
        "flag": "bool",
        "d": "date32[day]",
        "ts": "timestamp[us]",
        "tz": "timestamp[us, tz=UTC]",
        "mixed": "string",
        "empty": "string",
        "big": "decimal128(38, 0)",
    }
    data = table.to_pydict()
    assert data["i"] == [1, -2, None]
    assert data["f"] == [1.5, None, None]
    assert data["zip"] == ["09001", "10001", None]
    assert data["flag"] == [True, False, None]
    assert data["big"][0] == Decimal("99999999999999999999")
    assert str(data["tz"][1]) == "2024-01-31 08:00:00+00:00"


def test_nan_stays_text_in_a_string_column(tmp_path):
    _found, table = load(write(tmp_path, "a\nNaN\nhello\n"))
    assert table.column("a").to_pylist() == ["NaN", "hello"]


def test_ambiguous_values_stay_strings(tmp_path):
    text = "hex,padded,thousands,precise,naive_and_zoned,us_date\n"
    text += '0x10, 4,"1,000",82544000000000707.52,2020-01-01T00:00:00,03/10/2024\n'
    text += "0x11,5,2,1.5,2020-01-01T00:00:00Z,2024-03-11\n"
    found, _ = load(write(tmp_path, text))
    assert set(types(found).values()) == {"string"}


def test_custom_null_values(tmp_path):
    found, table = load(write(tmp_path, "a,b\n-,x\n3,\n"), ReadOptions(null_values=("-",)))
    assert types(found)["a"] == "int64"
    assert table.to_pydict() == {"a": [None, 3], "b": ["x", ""]}


def test_types_never_fail_late(tmp_path):
    """A value that breaks a type on the last row decides the type in pass 1."""
    rows = "".join(f"{i}\n" for i in range(300_000))
    found, table = load(write(tmp_path, "n\n" + rows + "oops\n"))
    assert types(found) == {"n": "string"}
    assert table.num_rows == 300_001


def test_inconsistent_row_is_a_parse_error_with_its_line(tmp_path):
    rows = "".join(f"{i},x\n" for i in range(20))
    err = error(write(tmp_path, "a,b\n" + rows + '1,"multi\nline",3\n' + "5,y\n"))
    assert err.code == "parse_error"
    assert err.details["line"] == 22
    assert err.details["expected_fields"] == 2
    assert err.details["actual_fields"] == 3


def test_header_wider_than_rows_is_a_parse_error(tmp_path):
    err = error(write(tmp_path, "a,b,c,\n1,2,3\n4,5,6\n"))
    assert err.code == "parse_error"


def test_preamble_lines_are_skipped_and_reported(tmp_path):
    text = "Exported 2024-01-01 by someone\n\nid,name,score\n1,a,2.5\n2,b,3.5\n"
    found, table = load(write(tmp_path, text))
    assert found.details["skipped_lines"] == 2
    assert found.schema.names == ["id", "name", "score"]
    assert table.num_rows == 2


def test_blank_lines_are_not_rows(tmp_path):
    _found, table = load(write(tmp_path, "a,b\n1,2\n\n3,4\n\n"))
    assert table.num_rows == 2


def test_header_only_file_has_zero_rows(tmp_path):
    found, _table = load(write(tmp_path, "a,b\n"))
    assert found.row_count == 0
    assert types(found) == {"a": "string", "b": "string"}


@pytest.mark.parametrize("data", [b"", b"  \n\r\n", b"\xef\xbb\xbf"])
def test_empty_files(tmp_path, data):
    assert error(write(tmp_path, data)).code == "empty_file"


def test_latin1_is_detected(tmp_path):
    found, table = load(write(tmp_path, "name,age\nJos\xe9,30\nM\xfcller,25\n".encode("latin-1")))
    assert found.details["encoding"] == "cp1252"
    assert table.column("name").to_pylist() == ["José", "Müller"]


def test_declared_encoding(tmp_path):
    data = "id,name\n1,Αθήνα\n".encode("iso8859-7")
    _found, table = load(write(tmp_path, data), ReadOptions(encoding="iso-8859-7"))
    assert table.column("name").to_pylist() == ["Αθήνα"]


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be"])
def test_utf16(tmp_path, codec):
    data = "name,age\nZoë,30\n名前,25\n".encode(codec)
    if codec == "utf-16-be":
        data = b"\xfe\xff" + data
    found, table = load(write(tmp_path, data))
    assert found.details["encoding"].startswith("utf-16")
    assert table.to_pydict() == {"name": ["Zoë", "名前"], "age": [30, 25]}


def test_invalid_utf8_after_the_head_is_an_encoding_error_with_offset(tmp_path):
    head = "a,b\n" + "é,1\n" * 400_000
    data = head.encode() + b"\xff,2\n"
    err = error(write(tmp_path, data))
    assert err.code == "encoding_error"
    assert err.details["offset"] == len(head.encode())


def test_broken_utf8_in_the_head_is_an_encoding_error(tmp_path):
    data = "a,b\né,1\nü,2\nö,3\n".encode() + b"\xe9,4\n"
    err = error(write(tmp_path, data))
    assert err.code == "encoding_error"
    assert err.details["offset"] == len("a,b\né,1\nü,2\nö,3\n".encode())


def test_gzip_compressed_csv_is_streamed(tmp_path):
    data = gzip.compress(b"a,b\n1,x\n2,y\n")
    found, table = load(write(tmp_path, data, "data.csv"))
    assert found.details["compression"] == "gzip"
    assert table.to_pydict() == {"a": [1, 2], "b": ["x", "y"]}


def test_zstd_compressed_csv_is_streamed(tmp_path):
    zstandard = pytest.importorskip("zstandard")
    data = zstandard.ZstdCompressor().compress(b"a;b\n1;x\n")
    found, table = load(write(tmp_path, data))
    assert found.details["compression"] == "zstd"
    assert table.to_pydict() == {"a": [1], "b": ["x"]}


def test_same_bytes_same_schema_and_details_survive_json(tmp_path):
    path = write(tmp_path, "a,b\n1,2020-01-01\n")
    first, second = inspect(path), inspect(path)
    assert first.schema.equals(second.schema)
    assert first.details == second.details
    restored = Inspection(
        first.format,
        first.schema,
        first.original_names,
        first.row_count,
        None,
        json.loads(json.dumps(first.details)),
    )
    assert next(iter(read_batches(path, restored))).to_pydict() == {
        "a": [1],
        "b": [pa.scalar(18262, pa.date32()).as_py()],
    }


def test_row_larger_than_a_block_is_read_with_larger_blocks(tmp_path):
    big = "x" * (5 << 20)
    found, table = load(write(tmp_path, f'a,b\n1,"{big}\n{big}"\n2,y\n'))
    assert found.details["block_bytes"] > 5 << 20
    assert table.column("b").to_pylist()[1] == "y"


def test_blocks_grow_in_steps_to_the_largest_row(tmp_path):
    """pyarrow reads 32 blocks ahead: a 5 MB row gets 8 MiB blocks, not the largest."""
    from lakeport.formats.csv import BLOCK_BYTES, BLOCK_STEPS

    found, table = load(write(tmp_path, f'a,b\n1,"{"x" * (5 << 20)}"\n2,y\n'))
    assert found.details["block_bytes"] == BLOCK_STEPS[1] > BLOCK_BYTES
    assert table.column("b").to_pylist()[1] == "y"
    found, _ = load(write(tmp_path, "a,b\n1,x\n2,y\n", name="small.csv"))
    assert found.details["block_bytes"] == BLOCK_BYTES


def test_unclosed_quote_is_a_parse_error(tmp_path):
    err = error(write(tmp_path, 'a,b\n0,x\n1,"open\n2,y\n3,z\n'))
    assert err.code == "parse_error"
    assert err.details["line"] == 3


def test_duplicate_and_blank_headers(tmp_path):
    found, _ = load(write(tmp_path, "id,,ID, id \n1,2,3,4\n"))
    assert found.schema.names == ["id", "column_2", "id_2", "id_3"]
    assert found.original_names == ["id", "", "ID", " id "]


def test_many_batches_conform(tmp_path):
    rows = "".join(f"{i},{i * 0.5},name {i}\n" for i in range(200_000))
    found, table = load(write(tmp_path, "a,b,c\n" + rows))
    assert types(found) == {"a": "int64", "b": "double", "c": "string"}
    assert table.column("a").to_pylist()[-1] == 199_999


def test_bytes_undefined_in_cp1252_fall_back_to_latin1(tmp_path):
    found, table = load(write(tmp_path, b"a,b\nx,1\ny\x81,2\n"))
    assert found.details["encoding"] == "latin-1"
    assert table.column("a").to_pylist() == ["x", "y\x81"]


def test_declared_encoding_that_does_not_fit_is_an_encoding_error(tmp_path):
    err = error(write(tmp_path, b"a,b\nx,1\ny\x81,2\n"), ReadOptions(encoding="cp1252"))
    assert err.code == "encoding_error"
    assert err.details == {"offset": 9, "encoding": "cp1252"}


def test_bad_delimiter_option(tmp_path):
    assert error(write(tmp_path, "a,b\n"), ReadOptions(delimiter="::")).code == "bad_request"


# --- on_error: skip_row ----------------------------------------------------------------

SKIP = ReadOptions(on_error="skip_row")


def skip_load(path: Path) -> tuple[Inspection, pa.Table, list[Reject]]:
    """Both passes under skip_row; the rejects the second pass reports."""
    found = inspect(path, SKIP)
    rejects: list[Reject] = []
    batches = list(read_batches(path, found, SKIP, on_reject=rejects.append))
    table = pa.Table.from_batches(batches, schema=found.schema)
    assert table.num_rows == found.row_count
    assert found.details["rows_rejected"] == len(rejects)
    return found, table, rejects


def test_skip_row_leaves_ragged_rows_out_with_line_column_value_and_reason(tmp_path):
    data = (
        "id,name,score\n"
        "1,ann,1.5\n"
        "oops\n"  # one field: would make id a string column if it were typed
        '2,"two\nlines",2.5\n'
        "3,cy,3.5,extra\n"
        "4,dan,4.5\n"
    )
    found, table, rejects = skip_load(write(tmp_path, data))
    assert types(found) == {"id": "int64", "name": "string", "score": "double"}
    assert table.column("id").to_pylist() == [1, 2, 4]
    assert table.column("name").to_pylist() == ["ann", "two\nlines", "dan"]
    assert rejects == [
        Reject(3, "name", "oops", "the row has 1 fields but the header has 3"),
        Reject(6, None, "3,cy,3.5,extra", "the row has 4 fields but the header has 3"),
    ]


def test_skip_row_lines_stay_right_across_blocks_and_with_a_preamble(tmp_path):
    lines = ["# exported by a tool", "a,b"]
    bad: list[int] = []
    for i in range(400_000):  # several blocks
        if i % 50_000 == 7:
            lines.append(f"{i}")
            bad.append(len(lines))
        else:
            lines.append(f"{i},{'x' * 5}")
    found, table, rejects = skip_load(write(tmp_path, "\n".join(lines) + "\n"))
    assert [r.line for r in rejects] == bad
    assert table.num_rows == 400_000 - len(bad)
    assert found.details["skipped_lines"] == 1


def test_skip_row_without_a_reject_handler_still_fails_never_drops_silently(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n3\n")
    found = inspect(path, SKIP)
    with pytest.raises(LakeportError) as caught:
        list(read_batches(path, found, SKIP))
    assert caught.value.code == "parse_error"
    assert caught.value.details["line"] == 3


def test_abort_names_line_column_and_value_of_the_first_ragged_row(tmp_path):
    err = error(write(tmp_path, "a,b,c\n1,2,3\n4,5\n"))
    assert err.code == "parse_error" and "line 3" in err.message
    assert err.details["line"] == 3
    assert err.details["column"] == 3  # the first missing field
    assert err.details["value"] == "4,5"


def test_undecodable_bytes_stay_fatal_under_skip_row(tmp_path):
    head = "a,b\n" + "é,1\n" * 400_000
    err = error(write(tmp_path, head.encode() + b"\xff,2\n"), SKIP)
    assert err.code == "encoding_error"


def test_an_unclosed_quote_at_the_end_stays_fatal_under_skip_row(tmp_path):
    err = error(write(tmp_path, 'a,b\n1,x\n2,"never closed\n3,y\n'), SKIP)
    assert err.code == "parse_error" and err.details["line"] == 3
