import gzip
import io
import zipfile

import pytest

from lakeport.errors import LakeportError
from lakeport.formats import ReadOptions, iceberg_type_name
from lakeport.formats.detect import detect


def put(tmp_path, data: bytes, name: str = "upload.bin"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"a,b\n1,2\n", "csv"),
        (b'{"a": 1}\n{"a": 2}\n', "json"),
        (b'\xef\xbb\xbf  [{"a": 1}]', "json"),
        (b"[]", "json"),
        (b"[avalon]|b\n1|2\n", "csv"),
        (b"PAR1" + b"\0" * 20 + b"PAR1", "parquet"),
        (b"PARE" + b"\0" * 20 + b"PARE", "parquet"),
    ],
)
def test_format_from_content_not_name(tmp_path, data, fmt):
    assert detect(put(tmp_path, data, "misleading.xlsx"), ReadOptions()).format == fmt


def test_gzip_is_looked_into(tmp_path):
    found = detect(put(tmp_path, gzip.compress(b'{"a": 1}')), ReadOptions())
    assert (found.format, found.compression) == ("json", "gzip")


def test_zip_without_a_workbook_is_unsupported(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("table.csv", "a,b\n1,2\n")
    with pytest.raises(LakeportError) as caught:
        detect(put(tmp_path, buf.getvalue()), ReadOptions())
    assert caught.value.code == "unsupported_format"


def test_xlsx_is_a_zip_with_a_workbook(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    assert detect(put(tmp_path, buf.getvalue()), ReadOptions()).format == "xlsx"


@pytest.mark.parametrize(
    "data",
    [b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, b"%PDF-1.4\n", bytes(range(32)) * 10],
)
def test_binary_files_are_unsupported(tmp_path, data):
    with pytest.raises(LakeportError) as caught:
        detect(put(tmp_path, data), ReadOptions())
    assert caught.value.code == "unsupported_format"


def test_empty(tmp_path):
    with pytest.raises(LakeportError) as caught:
        detect(put(tmp_path, b""), ReadOptions())
    assert caught.value.code == "empty_file"


def test_format_option_wins_and_tsv_is_csv(tmp_path):
    assert detect(put(tmp_path, b"[1]"), ReadOptions(format="tsv")).format == "csv"
    with pytest.raises(LakeportError) as caught:
        detect(put(tmp_path, b"a"), ReadOptions(format="avro"))
    assert caught.value.code == "unsupported_format"


def test_iceberg_type_names():
    import pyarrow as pa

    assert iceberg_type_name(pa.decimal128(10, 2)) == "decimal(10,2)"
    assert iceberg_type_name(pa.timestamp("us", "UTC")) == "timestamptz"
    assert iceberg_type_name(pa.map_(pa.string(), pa.list_(pa.int64()))) == (
        "map<string, list<long>>"
    )
    with pytest.raises(LakeportError):
        iceberg_type_name(pa.month_day_nano_interval())


def test_a_short_binary_blob_is_not_taken_for_csv(tmp_path):
    from lakeport.errors import LakeportError
    from lakeport.formats import inspect

    path = tmp_path / "junk.csv"
    path.write_bytes(b"\x00\x01\x02binary\xff\xfe")
    with pytest.raises(LakeportError) as info:
        inspect(path)
    assert info.value.code == "unsupported_format"
