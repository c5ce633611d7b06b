"""Delimited text (CSV/TSV): two streaming passes over pyarrow's CSV reader.

Pass 1 (:func:`inspect_csv`) reads every column as text, counts rows exactly, verifies
the sniffed dialect on every row and narrows each column's type (:mod:`.csv_types`).
Pass 2 (:func:`csv_stages`) streams the same bytes with the same reader settings
and converts each batch to the schema pass 1 chose. Memory is one block of text plus
its converted batch, whatever the file size.

**Typing from a sample.** Given ``sample_bytes`` (the pipeline's default), pass 1 stops
after that much text of a larger file, and pass 2 validates as it converts
(:func:`~.csv_types.checked_convert`, one cast per value) and keeps narrowing the
columns that were empty in the sample. The result is the whole-file pass's result or
:class:`~.base.TypesChanged`: a sample's candidate set contains the file's, and its
choice is the file's choice exactly when every value fits it, except for columns empty
in the sample (a string there, perhaps not over the file), which pass 2 therefore
types in full. One read of a typical file instead of two; a file whose late values
change a type costs a partial read more, then the two-pass path. Within one pipeline
job pass 2 does not even re-read the sample: it continues pass 1's read
(:mod:`.carry_over`).

Everything pass 2 needs (delimiter, encoding, compression, byte offset of the first
data row, null tokens, whether ragged rows are skipped) is in ``Inspection.details``, so
the convert step reproduces the infer step exactly, even in another process days later.
Ragged rows under ``on_error="skip_row"``: :mod:`.csv_rejects`.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from lakeport.domain.schema import safe_column_names
from lakeport.errors import LakeportError
from lakeport.formats import carry_over, csv_errors
from lakeport.formats.base import (
    Finish,
    Inspection,
    ReadOptions,
    RejectHandler,
    Tabular,
    TypesChanged,
    target_schema,
)
from lakeport.formats.csv_dialect import QUOTE, Dialect, sniff_dialect
from lakeport.formats.csv_rejects import RejectReporter, SkippedRows
from lakeport.formats.csv_types import (
    ColumnTyper,
    Misfit,
    arrow_type,
    checked_convert,
    convert,
    kind_of,
)
from lakeport.formats.detect import Detected, open_stream, text_encoding
from lakeport.formats.encoding import TextEncoding, decode_head
from lakeport.formats.read_ahead import ReadAhead, read_ahead

#: Bytes of text per batch. A row must fit in one block: a file with a larger row is
#: read again with larger blocks, up to :data:`MAX_BLOCK_BYTES` (recorded in the
#: inspection).
#: pyarrow's streaming reader reads up to 32 blocks ahead on its I/O thread, so the
#: block size sets that much memory: 1 MiB blocks keep it at 32 MiB. Against 2 MiB they
#: cut peak RSS by 70 MB and the fresh pages a new worker process must fault in (a 250 MB
#: convert ran 0-5 % faster); 4 MiB cost 140 MB more for no measurable speed.
BLOCK_BYTES = 1 << 20
MAX_BLOCK_BYTES = 64 << 20
#: Block sizes tried in turn for a file with a row larger than a block.
BLOCK_STEPS = (BLOCK_BYTES, 8 << 20, MAX_BLOCK_BYTES)


@dataclass(frozen=True)
class CsvPlan:
    """How to stream a delimited file: the JSON-safe part of an inspection."""

    path: Path
    compression: str | None
    encoding: TextEncoding
    delimiter: str
    data_offset: int
    data_line: int
    width: int
    null_values: tuple[str, ...]
    block_bytes: int = BLOCK_BYTES
    skip_ragged: bool = False

    def details(self) -> dict[str, Any]:
        skip: dict[str, Any] = {"on_error": "skip_row"} if self.skip_ragged else {}
        return skip | {
            "compression": self.compression,
            "encoding": self.encoding.codec,
            "bom_bytes": self.encoding.bom,
            "encoding_detection": self.encoding.how,
            "delimiter": self.delimiter,
            "quote": QUOTE,
            "data_offset": self.data_offset,
            "data_line": self.data_line,
            "null_values": list(self.null_values),
            "block_bytes": self.block_bytes,
        }

    def reading_key(self) -> tuple[Any, ...]:
        """What decides the text batches a read of this plan yields (not how the
        encoding was found): equal keys, equal batches."""
        enc = self.encoding
        return (
            str(self.path), self.compression, enc.codec, enc.bom, self.delimiter,
            self.data_offset, self.width, self.null_values, self.block_bytes, self.skip_ragged,
        )

    @classmethod
    def from_details(cls, path: Path, details: dict[str, Any], width: int) -> CsvPlan:
        enc = TextEncoding(details["encoding"], int(details["bom_bytes"]), "inspection")
        return cls(
            path=path,
            compression=details["compression"],
            encoding=enc,
            delimiter=details["delimiter"],
            data_offset=int(details["data_offset"]),
            data_line=int(details["data_line"]),
            width=width,
            null_values=tuple(details["null_values"]),
            block_bytes=int(details.get("block_bytes", BLOCK_BYTES)),
            skip_ragged=details.get("on_error") == "skip_row",
        )


def inspect_csv(
    path: Path, found: Detected, options: ReadOptions, sample_bytes: int | None = None
) -> Inspection:
    """Sniff, verify and type a delimited file in one streaming pass (or, with
    ``sample_bytes`` and ``abort`` on bad rows, its first ``sample_bytes`` of text)."""
    enc = text_encoding(found, options)
    text = decode_head(found.head, enc, found.complete)
    if not text.strip(" \t\r\n\ufeff"):
        raise LakeportError("empty_file", "the file holds only whitespace")
    delimiter = options.delimiter or ("\t" if options.format == "tsv" else None)
    if delimiter is not None and (len(delimiter) != 1 or delimiter in "\r\n" + QUOTE):
        raise LakeportError(
            "bad_request", f"the delimiter must be one character, not {delimiter!r}"
        )
    dialect = sniff_dialect(text, enc, delimiter, options.header, found.complete)
    plan = _plan(path, found, enc, dialect, options)
    limit = None if plan.skip_ragged else sample_bytes
    typed = _type_pass_fitting_rows(plan, limit)
    plan = typed.plan
    schema = target_schema(safe_column_names(dialect.names), [arrow_type(k) for k in typed.kinds])
    details = plan.details() | _dialect_details(dialect)
    if plan.skip_ragged:
        details["rows_rejected"] = typed.rejected
    if not typed.complete:
        details["typed_from_sample"] = True
        details["unseen_columns"] = [j for j, seen in enumerate(typed.seen) if not seen]
    fmt = "tsv" if plan.delimiter == "\t" else "csv"
    rows = typed.rows if typed.complete else None
    return Inspection(fmt, schema, list(dialect.names), rows, None, details)


@dataclass(frozen=True)
class _Typed:
    rows: int
    kinds: list[str]
    rejected: int
    seen: list[bool]
    complete: bool  # False: typed from a sample (the pass stopped early)
    plan: CsvPlan  # with the block size the rows needed


def _type_pass_fitting_rows(plan: CsvPlan, limit_bytes: int | None) -> _Typed:
    """:func:`_type_pass` with blocks grown until the largest row fits, in steps
    (:data:`BLOCK_STEPS`): pyarrow reads 32 blocks ahead, so a file with one 3 MB row
    holds 256 MB of read-ahead, not the 2 GB that jumping to the largest size would."""
    for size in (s for s in BLOCK_STEPS if s > plan.block_bytes):
        try:
            return _type_pass(plan, limit_bytes)
        except LakeportError as exc:
            if exc.details.get("reason") != csv_errors.ROW_TOO_LARGE:
                raise
        plan = replace(plan, block_bytes=size)
    return _type_pass(plan, limit_bytes)


def _type_pass(plan: CsvPlan, limit_bytes: int | None = None) -> _Typed:
    """Pass 1: count rows, verify every row's width, choose each column's type; with
    ``limit_bytes``, stop once that much text has been typed.

    Under ``skip_row`` ragged rows are skipped here too (only counted), so they never
    narrow a column's type: the schema is the good rows' schema.
    """
    typers = {j: ColumnTyper() for j in range(plan.width)}
    seen: set[int] = set()
    rows = typed_bytes = 0
    last: pa.RecordBatch | None = None
    skipped = SkippedRows(keep=False) if plan.skip_ragged else None
    complete = True
    kept: list[pa.RecordBatch] | None = [] if limit_bytes and carry_over.carrying() else None
    with read_ahead(string_batches(plan, skipped)) as batches:  # parse while typing
        for batch in batches:
            rows += batch.num_rows
            last = batch if batch.num_rows else last
            _narrow(typers, seen, batch)
            typed_bytes += batch.nbytes
            if kept is not None:
                kept.append(batch)
            if limit_bytes is not None and typed_bytes >= limit_bytes:
                complete = _stop_sampling(plan, batches, kept)
                break
    if complete:
        _check_final_quote(plan, last)
    kinds = [typers[j].result(j in seen) for j in range(plan.width)]
    rejected = skipped.count if skipped is not None else 0
    return _Typed(rows, kinds, rejected, [j in seen for j in range(plan.width)], complete, plan)


def _stop_sampling(
    plan: CsvPlan, batches: ReadAhead, kept: list[pa.RecordBatch] | None
) -> bool:
    """Whether the sample was the whole file; if not, and the batches were kept, the
    sample and the still-open read are left for the convert step (:mod:`.carry_over`)."""
    if kept is None:
        return next(batches, None) is None
    rest = batches.detach()
    following = next(rest, None)
    if following is None:
        return True
    carry_over.offer(plan.reading_key(), [*kept, following], rest)
    return False


def _narrow(typers: dict[int, ColumnTyper], seen: set[int], batch: pa.RecordBatch) -> None:
    """Narrow each given column's candidates with one batch; note the columns that held
    a value (a column never seen is a string, whatever its candidates)."""
    for j, typer in typers.items():
        column = batch.column(j)
        if column.null_count < len(column):
            seen.add(j)
            typer.observe(column)


def _check_final_quote(plan: CsvPlan, last: pa.RecordBatch | None) -> None:
    """A quote left open swallows the file's end into the last field: fail it."""
    if last is not None:
        csv_errors.check_final_quote(plan, last.column(plan.width - 1)[-1].as_py())


def _plan(
    path: Path, found: Detected, enc: TextEncoding, dialect: Dialect, options: ReadOptions
) -> CsvPlan:
    return CsvPlan(
        path=path,
        compression=found.compression,
        encoding=enc,
        delimiter=dialect.delimiter,
        data_offset=dialect.data_offset,
        data_line=dialect.data_line,
        width=len(dialect.names),
        null_values=options.nulls(),
        skip_ragged=options.on_error == "skip_row",
    )


def _dialect_details(dialect: Dialect) -> dict[str, Any]:
    return {
        "header": dialect.header,
        "skipped_lines": dialect.skipped_lines,
        "line_ending": dialect.line_ending,
    }


def csv_stages(
    path: Path, inspection: Inspection, on_reject: RejectHandler | None = None
) -> tuple[Iterator[pa.RecordBatch], Finish]:
    """Pass 2 in two halves: the text batches, in order, and the conversion of text
    (one batch, or a row group of them as a table) to ``inspection.schema``, which is
    independent of every other batch and so may run on another thread (the staging
    writer converts on its encoding threads and parses on one: a parser alone keeps up
    with two such threads).

    The conversion of a file typed from a sample raises :class:`TypesChanged` for a
    value the sample's types do not fit; the text iterator raises it at its end when a
    column empty in the sample turns out typed.
    """
    schema = inspection.schema
    plan = CsvPlan.from_details(path, inspection.details, len(schema))
    if inspection.details.get("typed_from_sample"):
        kinds = [kind_of(field.type) for field in schema]

        def checked(data: Tabular) -> Tabular:
            try:
                arrays = [checked_convert(data.column(j), kind) for j, kind in enumerate(kinds)]
            except Misfit as exc:
                raise TypesChanged(str(exc)) from exc
            return type(data).from_arrays(arrays, schema=schema)

        unseen = [int(j) for j in inspection.details.get("unseen_columns", [])]
        # taken here, on the step's thread: the batches are read on another
        carried = carry_over.take(plan.reading_key())
        return _sampled_text(plan, unseen, kinds, carried), checked

    def converted(data: Tabular) -> Tabular:
        arrays = [convert(data.column(j), field.type) for j, field in enumerate(schema)]
        return type(data).from_arrays(arrays, schema=schema)

    return _text(plan, inspection, on_reject), converted


def _text(
    plan: CsvPlan, inspection: Inspection, on_reject: RejectHandler | None
) -> Iterator[pa.RecordBatch]:
    reporter = None
    if plan.skip_ragged and on_reject is not None:
        reporter = RejectReporter(plan, list(inspection.original_names), on_reject)
    for batch in string_batches(plan, reporter.skipped if reporter else None):
        if reporter is not None:
            reporter.drain()
        yield batch
    if reporter is not None:
        reporter.drain()


def _sampled_text(
    plan: CsvPlan,
    unseen: list[int],
    kinds: list[str],
    carried: Iterator[pa.RecordBatch] | None,
) -> Iterator[pa.RecordBatch]:
    """Text batches of a file typed from a sample (``carried``: the same batches, from
    the typing pass's read), typing the columns the sample never saw a value in as
    they pass: :class:`TypesChanged` at the end when the sample chose differently from
    what the whole file would."""
    typers = {j: ColumnTyper() for j in unseen}
    seen: set[int] = set()
    last: pa.RecordBatch | None = None
    for batch in carried or string_batches(plan):
        last = batch if batch.num_rows else last
        _narrow(typers, seen, batch)
        yield batch
    _check_final_quote(plan, last)
    if any(typer.result(j in seen) != kinds[j] for j, typer in typers.items()):
        raise TypesChanged("a column empty in the sample holds typed values")


def string_batches(
    plan: CsvPlan, skipped: SkippedRows | None = None
) -> Generator[pa.RecordBatch, None, None]:
    """Every data row as text columns ``c0..cN`` (nulls for null tokens); ragged rows
    go to ``skipped`` when given, else fail the read."""
    try:
        with open_stream(plan.path, plan.compression) as stream:
            _skip(stream, plan.data_offset)
            yield from _reader(stream, plan, skipped)
    except (pa.ArrowInvalid, OSError, UnicodeDecodeError) as exc:
        raise csv_errors.classify(exc, plan) from exc


def _skip(stream: pa.NativeFile, count: int) -> None:
    if count == 0:
        return
    if stream.seekable():
        stream.seek(count)
        return
    while count > 0:
        got = stream.read(min(count, 1 << 20))
        if not got:
            return
        count -= len(got)


def _reader(
    stream: pa.NativeFile, plan: CsvPlan, skipped: SkippedRows | None
) -> Iterator[pa.RecordBatch]:
    names = [f"c{j}" for j in range(plan.width)]
    read = pacsv.ReadOptions(
        column_names=names,
        block_size=plan.block_bytes,
        use_threads=False,  # the streaming reader parses serially; threads only add work
        encoding="utf8" if plan.encoding.is_utf8 else plan.encoding.codec,
    )
    parse = pacsv.ParseOptions(
        delimiter=plan.delimiter,
        quote_char=QUOTE,
        double_quote=True,
        newlines_in_values=True,
        ignore_empty_lines=True,
        invalid_row_handler=skipped,
    )
    convert_options = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        null_values=list(plan.null_values),
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    try:
        reader = pacsv.open_csv(stream, read, parse, convert_options)
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            return  # a header and no rows: a valid, empty table
        raise
    yield from reader
