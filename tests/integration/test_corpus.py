# ruff: noqa: E501  (the reviewed tables below keep one file per line)
"""Every file of the shared real-world corpus lands, or fails with a reviewed code.

The corpus (``/work/shared/corpus``, see its README and MANIFEST.json) holds files that
nobody on this project wrote. Each file either:

* inspects and streams without error, every batch conforming to the inspection's
  schema, with the row count a trusted source gives (reviewed overrides below, else the
  csvw sidecar, else pyarrow's count in the manifest, else DuckDB's), or
* raises a :class:`LakeportError` whose code is the one in :data:`EXPECTED_FAILURES`.

A file whose outcome differs from these tables fails the test, so every change in
behaviour is reviewed here rather than silently accepted.
"""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from lakeport.errors import LakeportError
from lakeport.formats import iceberg_type_name, inspect, read_batches


def _table(text: str) -> dict[str, tuple[str, str]]:
    """``path | value | reason`` lines (``#`` lines are section titles) as a dict."""
    rows: dict[str, tuple[str, str]] = {}
    for line in text.strip().splitlines():
        if line.strip() and not line.startswith("#"):
            path, value, reason = (part.strip() for part in line.split(" | ", 2))
            assert path not in rows, f"{path} listed twice"
            rows[path] = (value, reason)
    return rows


def _corpus() -> Path:
    """``$LAKEPORT_CORPUS``, else ``../shared/corpus`` beside the checkout, else the
    workplace's ``/work/shared/corpus`` (a clone elsewhere still walks the corpus)."""
    candidates = [
        Path(os.environ.get("LAKEPORT_CORPUS", "")),
        Path(__file__).resolve().parents[3] / "shared" / "corpus",
        Path("/work/shared/corpus"),
    ]
    return next((p for p in candidates if str(p) != "." and p.is_dir()), candidates[1])


CORPUS = _corpus()
SKIP_NAMES = {"README.md", "MANIFEST.json"}

#: path | error code | why that is the right outcome (one reviewed line per file)
EXPECTED_FAILURES: dict[str, tuple[str, str]] = _table(
    """
# CSV: rows whose field count differs from the header (never dropped or padded)
csv/duckdb/aemo_public_daily_sample.csv | parse_error | multi-record-type AEMO file: 10- and 120-field rows
csv/duckdb/imdb_movie_info_escaped.csv | parse_error | backslash-escaped quotes (not RFC 4180) split row 8
csv_edge/csvw/manifest_cr_only.csv | parse_error | ragged: 93 rows omit trailing empty fields
csv_edge/csvw/test052.csv | parse_error | '#' comment line inside the data (comment prefix is metadata-only)
csv_edge/duckdb/afl__23.csv | parse_error | fuzzed: '#' comment lines between data rows
csv_edge/duckdb/all_quotes.csv | parse_error | quote after a space is not a quote in RFC 4180: 6 fields
csv_edge/duckdb/bad_csv_file_2047.csv | parse_error | unescaped quote makes line 2049 16 fields wide
csv_edge/duckdb/comments__mid_line.csv | parse_error | comment text after data on a line
csv_edge/duckdb/evil_nullpadding.csv | parse_error | ragged rows (2 to 4 fields) and an open quote
csv_edge/duckdb/extra_delimiters.csv | parse_error | a 5-field row under a 3-field header
csv_edge/duckdb/inconsistencies__inconsistent_columns_3.csv | parse_error | 3-field header, 4-field rows
csv_edge/duckdb/locations_header_trailing_comma.csv | parse_error | header has a 5th empty field, rows 4
csv_edge/duckdb/locations_row_trailing_comma.csv | parse_error | rows have a 5th empty field, header 4
csv_edge/duckdb/nullpadding.csv | parse_error | ragged rows of 3 to 6 fields
csv_edge/duckdb/pollock__file_field_delimiter_0x20.csv | parse_error | space-delimited: not a supported delimiter
csv_edge/duckdb/unescaped_quotes__unescaped_quote.csv | parse_error | bare quote inside a quoted field
csv_edge/duckdb/unquoted_escape__basic.tsv | parse_error | backslash-escaped tabs and newlines
csv_edge/frictionless/defective-rows.csv | parse_error | rows of 2 and 4 fields under a 3-field header
csv_edge/frictionless/invalid.csv | parse_error | 4-field header, 2-field rows
csv_edge/frictionless/skip-blank-at-the-end.csv | parse_error | '#' comment line inside the data
csv_edge/frictionless/skip-rows.csv | parse_error | '#' comment line inside the data
csv_edge/frictionless/structure-errors.csv | parse_error | a 6-field row under a 3-field header
csv_edge/gebi-csv-test/evil.csv | parse_error | space before a quote: the quoted comma splits the row
csv_edge/gebi-csv-test/evil1.csv | parse_error | a 2-field row under a 3-field header
# not delimited text at all
csv_edge/duckdb/afl__20.csv | unsupported_format | fuzzed binary junk
csv_edge/frictionless/compression__implicit-zip.csv | unsupported_format | zip archive (only gzip/zstd are streamed)
csv_edge/duckdb/empty.csv | empty_file | 0 bytes
# JSON
json/duckdb/array_of_empty_arrays.json | empty_file | [[],[],[]]: rows without values
json/duckdb/empty.ndjson | empty_file | 0 bytes
json/duckdb/empty_array.json | empty_file | [] only
json/duckdb/whitespace_only.json | empty_file | whitespace only
json/jsontestsuite/n_single_space.json | empty_file | a single space
json/jsontestsuite/n_structure_UTF8_BOM_no_data.json | empty_file | a BOM and nothing else
json/jsontestsuite/i_string_UTF-16LE_with_BOM.json | empty_file | ["é"]: a header row and no data
json/jsontestsuite/y_string_nonCharacterInUTF-8_U+FFFF.json | empty_file | a header row and no data
json/duckdb/malformed__array_comma_malformed.json | parse_error | '[ , ]'
json/duckdb/trailing_content.ndjson | parse_error | garbage 'TRAILER' after a record
json/duckdb/unterminated_quotes.ndjson | parse_error | unterminated string
json/jsontestsuite/n_string_unescaped_newline.json | parse_error | raw newline inside a string
json/jsontestsuite/n_structure_100000_opening_arrays.json | parse_error | nesting bomb
json/jsontestsuite/n_structure_object_unclosed_no_value.json | parse_error | truncated object
json/jsontestsuite/n_structure_unclosed_array.json | parse_error | truncated array
json/duckdb/malformed__empty_array_trailing.json | unsupported_format | '[] 42': a bare number record
json/jsontestsuite/i_string_invalid_utf-8.json | encoding_error | JSON must be UTF-8; byte 0xFF
# Parquet: footers the library refuses, or that crash it (in the probe child)
parquet/apache-parquet-testing/incorrect_map_schema.parquet | unreadable_parquet | pyarrow refuses a MAP with optional keys
parquet/duckdb/bigdecimal.parquet | unreadable_parquet | DECIMAL(77) is beyond what Arrow can represent
parquet_bad/apache-parquet-testing/PARQUET-1481.parquet | unreadable_parquet | physical type UNKNOWN
parquet_bad/apache-parquet-testing/encrypt_columns_and_footer.parquet.encrypted | unreadable_parquet | encrypted footer, no keys
parquet_bad/apache-parquet-testing/encrypt_columns_plaintext_footer.parquet.encrypted | unreadable_parquet | aborts the probe process (SIGABRT)
parquet_bad/apache-parquet-testing/uniform_encryption.parquet.encrypted | unreadable_parquet | encrypted footer, no keys
parquet_bad/apache-parquet-testing/large_string_map.brotli.parquet | unreadable_parquet | a 2 GiB column chunk: refused before reading
parquet_bad/duckdb/broken__broken_bigint.parquet | unreadable_parquet | INT_64 annotation on INT32
parquet_bad/duckdb/broken__broken_date.parquet | unreadable_parquet | DATE annotation on a wrong type
parquet_bad/duckdb/broken__broken_timestamp.parquet | unreadable_parquet | TIMESTAMP annotation on a wrong type
parquet_bad/duckdb/broken__fuzzer4360.parquet | unreadable_parquet | negative number of schema children
parquet_bad/duckdb/encryption__encrypted_column.parquet | unreadable_parquet | aborts the probe process (SIGABRT)
parquet_bad/duckdb/encryption__encrypted_footer.parquet | unreadable_parquet | encrypted footer, no keys
# Parquet: footers fine, data pages corrupt
parquet_bad/apache-parquet-testing/ARROW-GH-41317.parquet | unreadable_parquet | columns of unequal length
parquet_bad/apache-parquet-testing/ARROW-GH-41321.parquet | unreadable_parquet | corrupt bit width
parquet_bad/apache-parquet-testing/ARROW-GH-45185.parquet | unreadable_parquet | repetition levels start at 1
parquet_bad/apache-parquet-testing/ARROW-GH-47662.parquet | unreadable_parquet | nulls in a REQUIRED column
parquet_bad/apache-parquet-testing/ARROW-RS-GH-6229-DICTHEADER.parquet | unreadable_parquet | negative dictionary count
parquet_bad/apache-parquet-testing/ARROW-RS-GH-6229-LEVELS.parquet | unreadable_parquet | too few repetition levels
parquet_bad/duckdb/afl__1.parquet | unreadable_parquet | negative page value count
parquet_bad/duckdb/afl__5.parquet | unreadable_parquet | dictionary offset out of range
parquet_bad/duckdb/broken-arrow.parquet | unreadable_parquet | broken dictionary page
parquet_bad/duckdb/broken__fuzzer4362.parquet | unreadable_parquet | bad page header
parquet_bad/duckdb/broken__internal_6129.parquet | unreadable_parquet | bad DELTA_BINARY_PACKED block
parquet_bad/duckdb/broken__internal_6165.parquet | unreadable_parquet | row group names a missing column
parquet_bad/duckdb/broken__issue22325_datapage_v2_neg_compressed_bytes.parquet | unreadable_parquet | negative compressed size
parquet_bad/duckdb/broken__issue22325_datapage_v2_negative_def_levels.parquet | unreadable_parquet | negative levels length
parquet_bad/duckdb/broken__issue22325_datapage_v2_zero_compressed_size.parquet | unreadable_parquet | corrupt snappy page
parquet_bad/duckdb/parquet_column_num_values_mismatch.parquet | unreadable_parquet | footer says 8 rows, chunks hold 0
parquet_bad/duckdb/rle_malicious_bitwidth.parquet | unreadable_parquet | RLE bit width 63
# Parquet: values no Iceberg reader should see (pyarrow passes them through; we do not)
parquet/duckdb/decimal__pandas_decimal.parquet | unreadable_parquet | a 38-digit value in a decimal(36,17) column
parquet/apache-parquet-testing/int96_from_spark.parquet | unsupported_type | an INT96 timestamp ~225,000 years before 1970
parquet_bad/duckdb/invalid.parquet | encoding_error | invalid UTF-8 in a STRING column
parquet_bad/duckdb/invalid_utf8_dba.parquet | encoding_error | invalid UTF-8 (DELTA_BYTE_ARRAY)
parquet_bad/duckdb/invalid_utf8_dictionary.parquet | encoding_error | invalid UTF-8 (dictionary)
parquet_bad/duckdb/invalid_utf8_dlba.parquet | encoding_error | invalid UTF-8 (DELTA_LENGTH_BYTE_ARRAY)
"""
)

#: path | rows | why this count and not the manifest's
REVIEWED_ROWS: dict[str, tuple[int, str]] = {
    path: (int(rows), why)
    for path, (rows, why) in _table(
        """
csv/duckdb/ncvoter_tab_allquoted.csv | 10 | no header (all rows fit the column types); pyarrow eats row 1
csv/duckdb/tpcds_web_page_pipe_noheader.csv | 60 | no header, as the name says; pyarrow eats row 1
csv/frictionless/issue-1066.csv | 21624 | 21,625 ';' records minus the header (manifest note)
csv_edge/csvw/test019.csv | 2 | csvw expects header=absent: 2 rows
csv_edge/csvw/test055.csv | 4 | all-empty records are rows of nulls; csvw skips them only via metadata
csv_edge/duckdb/mixed_new_line.csv | 3 | three numeric rows, no header
csv_edge/duckdb/real__greek_utf8.csv | 8 | no header (duckdb agrees)
csv_edge/frictionless/without-headers.csv | 3 | no header, as the name says
csv_edge/duckdb/csv_quoted_newline_odd.csv | 2 | a 1-column file: the quoted tweet, then '84,hello world'
csv_edge/duckdb/afl__20250211_csv_fuzz_crash__case_53.csv | 8 | fuzzed; read as one text column
json/duckdb/top_level_two_arrays.json | 4 | two arrays of two objects: four records
json/duckdb/geojson__features.geojson | 1 | one FeatureCollection object; features are a list column
json/frictionless/table.json | 2 | array of rows; the first (all strings) is the header
json/simdjson/amazon_cellphones.ndjson | 792 | rows as arrays; the first line is the header
json/jsontestsuite/y_structure_lonely_int.json | 0 | '42' is read as a one-column CSV header
"""
    ).items()
}


@cache
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / "MANIFEST.json").read_text())
    return data


def corpus_files() -> list[str]:
    if not CORPUS.is_dir():
        return []
    return sorted(
        str(p.relative_to(CORPUS))
        for p in CORPUS.rglob("*")
        if p.is_file() and p.name not in SKIP_NAMES
    )


def csvw_rows(rel: str) -> int | None:
    if not (rel.startswith("csv_edge/csvw/") and rel.endswith(".csv")):
        return None
    sidecar = CORPUS / (rel.removesuffix(".csv") + ".csvw-expected.json")
    if not sidecar.is_file():
        return None
    return len(json.loads(sidecar.read_text())["tables"][0]["row"])


def trusted_rows(rel: str) -> int | None:
    if rel in REVIEWED_ROWS:
        return REVIEWED_ROWS[rel][0]
    sidecar = csvw_rows(rel)
    if sidecar is not None:
        return sidecar
    probe = (manifest().get(rel) or {}).get("probe") or {}
    for engine in ("pa", "duck"):
        result = probe.get(engine) or {}
        if result.get("ok") and isinstance(result.get("rows"), int):
            return int(result["rows"])
    return None


def outcome(path: Path) -> tuple[str, int, int | None]:
    """("ok", rows read, rows inspected) or (error code, 0, None)."""
    try:
        found = inspect(path)
        json.dumps(found.details)  # the pipeline persists details as JSON
        for field in found.schema:
            iceberg_type_name(field.type)  # every target type has an Iceberg name
        rows = 0
        for batch in read_batches(path, found):
            assert batch.schema.equals(found.schema), path
            rows += batch.num_rows
    except LakeportError as exc:
        return exc.code, 0, None
    return "ok", rows, found.row_count


FILES = corpus_files()


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus folder {CORPUS} is absent")
@pytest.mark.parametrize("rel", FILES or ["<no corpus>"])
def test_corpus_file(rel: str) -> None:
    code, rows, inspected = outcome(CORPUS / rel)
    if rel in EXPECTED_FAILURES:
        assert code == EXPECTED_FAILURES[rel][0], f"{rel}: expected {EXPECTED_FAILURES[rel]}"
        return
    assert code == "ok", f"{rel} failed with {code}; fix it or review it into EXPECTED_FAILURES"
    if rel.endswith((".parquet", ".PARQUET")):
        assert inspected is not None and rows >= inspected  # footers may undercount, never over
    else:
        assert rows == inspected
    expected = trusted_rows(rel)
    if expected is not None:
        assert rows == expected, f"{rel}: {rows} rows, trusted count {expected}"


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus folder {CORPUS} is absent")
def test_reviewed_tables_name_existing_files() -> None:
    stale = (set(EXPECTED_FAILURES) | set(REVIEWED_ROWS)) - set(FILES)
    assert not stale, f"entries for files no longer in the corpus: {sorted(stale)}"
