"""Writing converted data as Parquet files into a table's data directory, before commit.

Files are named from the upload ID and a sequence number
(``<location>/data/lp-<upload>-<nnnnn>.parquet``), so a convert step that is interrupted
and run again overwrites the same names instead of leaving strays, and a failed upload
can delete exactly what it wrote. They carry no Iceberg field IDs: ``add_files`` maps
them by name. Until the commit references them no reader can see them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from queue import Empty, Full, Queue
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pyiceberg.io import FileIO

from lakeport.formats.base import Finish
from lakeport.formats.read_ahead import read_ahead

#: Roll to a new file after this many bytes of Arrow data (~128 MB of Parquet or less).
TARGET_FILE_BYTES = 512 * 1024 * 1024
COMPRESSION = "zstd"
#: Arrow bytes buffered per row group, and the row cap per group.
ROW_GROUP_BYTES = 32 * 1024 * 1024
ROW_GROUP_ROWS = 1_000_000
#: Files encoded at once (threads; each holds about one row group).
LANES = 2
#: Rows of a lane's first row group looked at to choose each column's encoding; the
#: largest share of distinct values a dictionary column may have; the mean text length
#: above which a column goes without min/max statistics (:func:`choose_encoding`).
SAMPLE_ROWS = 8_192
DICTIONARY_MAX_DISTINCT_SHARE = 0.25
STATISTICS_MAX_MEAN_BYTES = 64


class _StatisticsLeftOutOnPurpose(logging.Filter):
    """pyiceberg warns, for every file it adds and every column without min/max
    statistics, that they are missing; :func:`choose_encoding` leaves them out of long
    text on purpose, so that warning would fill a worker's log with noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("PyArrow statistics missing")


logging.getLogger("pyiceberg.io.pyarrow").addFilter(_StatisticsLeftOutOnPurpose())


@dataclass(frozen=True)
class StagedFile:
    """One Parquet file written for an upload."""

    path: str
    rows: int


def staged_path(location: str, upload_id: str, seq: int) -> str:
    """Deterministic name of the ``seq``-th staged file of an upload."""
    return f"{location.rstrip('/')}/data/lp-{upload_id}-{seq:05d}.parquet"


def write_staged(
    io: FileIO,
    location: str,
    upload_id: str,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    target_file_bytes: int = TARGET_FILE_BYTES,
    lanes: int = LANES,
    finish: Finish | None = None,
) -> list[StagedFile]:
    """Stream ``batches`` into Parquet files under ``location``; memory stays a few
    row groups.

    Row groups are finished (``finish`` turns a row group of raw batches, as one
    table, into rows of ``schema``; see :func:`lakeport.formats.read_stages`) and
    encoded on ``lanes`` threads at once, lane *w* writing files ``w, w+lanes, …``:
    pyarrow encodes one file on one thread, and the parser alone keeps up with two
    threads that convert and encode. Row group *i* goes to lane ``i % lanes``, so the
    same input always gives the same files, which a retried convert overwrites; an
    input under one row group is one file. An empty input still yields one
    header-only file, so the schema lands. If reading or writing fails midway, every
    file written so far is deleted before re-raising.
    """
    written: list[str] = []
    try:
        with read_ahead(batches) as ahead:
            job = _Job(io, location, upload_id, schema, target_file_bytes, finish, written)
            return _write_all(job, ahead, max(1, lanes))
    except BaseException:
        delete_staged(io, written)
        raise


@dataclass(frozen=True)
class _Job:
    """What every lane of one :func:`write_staged` call shares."""

    io: FileIO
    location: str
    upload_id: str
    schema: pa.Schema
    target_file_bytes: int
    finish: Finish | None
    written: list[str]  # every path opened, for the clean-up on failure


def _write_all(job: _Job, batches: Iterable[pa.RecordBatch], lanes: int) -> list[StagedFile]:
    started: list[_Lane] = []
    try:
        for index, group in enumerate(_row_groups(batches)):
            if not started:
                started = [_Lane(job, w, lanes) for w in range(lanes)]
            started[index % lanes].put(group)
        if not started:
            started = [_Lane(job, 0, 1)]
            started[0].put([])
        staged = [f for lane in started for f in lane.finish()]
    finally:
        for lane in started:
            lane.abandon()
    return sorted(staged, key=lambda f: f.path)


def _row_groups(batches: Iterable[pa.RecordBatch]) -> Iterator[list[pa.RecordBatch]]:
    """Batches gathered to ``ROW_GROUP_BYTES`` (readers and the writer both pay per
    row group, so groups are few and large)."""
    pending: list[pa.RecordBatch] = []
    size = 0
    for batch in batches:
        pending.append(batch)
        size += batch.nbytes
        if size >= ROW_GROUP_BYTES:
            yield pending
            pending, size = [], 0
    if pending:
        yield pending


@dataclass(frozen=True)
class Encoding:
    """Per-column Parquet choices (``True``: pyarrow's default for every column)."""

    dictionary: bool | list[str] = True
    statistics: bool | list[str] = True


def choose_encoding(group: pa.Table) -> Encoding:
    """Columns worth a dictionary and min/max statistics, judged on a lane's first row
    group (a sample of :data:`SAMPLE_ROWS` rows).

    pyarrow's default builds a dictionary for every column and falls back to plain
    once it outgrows a page: for ids, amounts, timestamps and free text that is
    wasted work (a third of the encoding time) and a bigger file. A column whose
    sample has at most one distinct value in :data:`DICTIONARY_MAX_DISTINCT_SHARE` of
    its values keeps the dictionary. Min/max of long text (over
    :data:`STATISTICS_MAX_MEAN_BYTES` a value) costs a sixth of the encoding and prunes
    nothing (Iceberg truncates string bounds to 16 characters anyway), so such columns
    go without. Nested columns keep pyarrow's defaults.
    """
    if not group.num_rows or any(pa.types.is_nested(f.type) for f in group.schema):
        return Encoding()
    sample = group.slice(0, SAMPLE_ROWS)
    dictionary, statistics = [], []
    for name, column in zip(group.schema.names, sample.columns, strict=True):
        values = len(column) - column.null_count
        if values and pc.count_distinct(column).as_py() <= values * DICTIONARY_MAX_DISTINCT_SHARE:
            dictionary.append(name)
        if not _long_text(column, values):
            statistics.append(name)
    return Encoding(dictionary, statistics)


def _long_text(column: pa.ChunkedArray, values: int) -> bool:
    if not (pa.types.is_string(column.type) or pa.types.is_binary(column.type)) or not values:
        return False
    total = pc.sum(pc.binary_length(column)).as_py() or 0
    return total > values * STATISTICS_MAX_MEAN_BYTES


class _Lane:
    """One thread that finishes and encodes row groups into its files (every
    ``lanes``-th sequence number from ``first``). A row group is handed over only
    when the lane is idle, so a busy lane holds the reader back instead of piling up
    memory: at most one row group per lane, plus the one being gathered."""

    def __init__(self, job: _Job, first: int, lanes: int) -> None:
        self._job = job
        self._seq = first
        self._step = lanes
        self._encoding: Encoding | None = None
        self._queue: Queue[list[pa.RecordBatch] | None] = Queue(maxsize=1)
        self._idle = threading.Semaphore(1)
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self.files: list[StagedFile] = []
        self._thread = threading.Thread(target=self._run, name=f"lakeport-lane-{first}")
        self._thread.start()

    def put(self, group: list[pa.RecordBatch] | None) -> None:
        """Hand a row group (None: the end) to this lane once it is idle; re-raises its
        error, if any."""
        while not self._idle.acquire(timeout=0.1):
            self._raise_if_failed()
        self._raise_if_failed()
        self._queue.put_nowait(group)

    def finish(self) -> list[StagedFile]:
        """Wait for everything handed over to be written; the lane's files."""
        self.put(None)
        self._thread.join()
        self._raise_if_failed()
        return self.files

    def abandon(self) -> None:
        """Stop after the current row group (on failure elsewhere); idempotent."""
        self._stop.set()
        while self._thread.is_alive():
            try:
                self._queue.put_nowait(None)  # wakes a lane waiting for work
            except Full:
                with suppress(Empty):
                    self._queue.get_nowait()
            self._thread.join(0.05)

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        writer: _RollingFile | None = None
        try:
            while not self._stop.is_set() and (group := self._queue.get()) is not None:
                table = self._finish(group)
                del group  # the raw batches go as soon as they are converted
                if self._encoding is None:
                    self._encoding = choose_encoding(table)
                if writer is None:
                    writer = self._open(self._encoding)
                if table.num_rows:
                    writer.write(table)
                del table  # before waiting for the next one
                self._idle.release()
                if writer.arrow_bytes >= self._job.target_file_bytes:
                    self.files.append(writer.close())
                    writer = None
            if writer is not None and not self._stop.is_set():
                self.files.append(writer.close())
                writer = None
        except BaseException as exc:  # handed to the dispatcher, which re-raises it
            self._error = exc
        finally:
            if writer is not None:  # abandoned midway: the dispatcher deletes the file
                writer.discard()

    def _finish(self, group: list[pa.RecordBatch]) -> pa.Table:
        """The row group as a table of the job's schema, converted in one go: a compute
        call per column of the group instead of one per column of each of its dozen
        batches (10 % less conversion time; fewer GIL hand-offs between threads)."""
        if not group:
            return self._job.schema.empty_table()
        table = pa.Table.from_batches(group)
        if self._job.finish is None:
            return table
        finished = self._job.finish(table)
        return finished if isinstance(finished, pa.Table) else pa.Table.from_batches([finished])

    def _open(self, encoding: Encoding) -> _RollingFile:
        job = self._job
        path = staged_path(job.location, job.upload_id, self._seq)
        job.written.append(path)  # list.append is atomic: safe across lanes
        self._seq += self._step
        return _RollingFile(job.io, path, job.schema, encoding)


class _RollingFile:
    """One Parquet file being written through the table's FileIO."""

    def __init__(self, io: FileIO, path: str, schema: pa.Schema, encoding: Encoding) -> None:
        self.path = path
        self.rows = 0
        self.arrow_bytes = 0
        self._stream: Any = io.new_output(path).create(overwrite=True)
        self._writer = pq.ParquetWriter(
            self._stream,
            schema,
            compression=COMPRESSION,
            use_dictionary=encoding.dictionary,
            write_statistics=encoding.statistics,
        )

    def write(self, table: pa.Table) -> None:
        """Write one row group."""
        self.rows += table.num_rows
        self.arrow_bytes += table.nbytes
        self._writer.write_table(table, row_group_size=ROW_GROUP_ROWS)

    def close(self) -> StagedFile:
        self._writer.close()
        self._stream.close()
        return StagedFile(self.path, self.rows)

    def discard(self) -> None:
        """Release the file without finishing it (it is deleted by the caller)."""
        with suppress(Exception):
            self._writer.close()
        with suppress(Exception):
            self._stream.close()


def delete_staged(io: FileIO, paths: Iterable[str]) -> None:
    """Remove staged files (after a failure, or files the commit never took)."""
    for path in paths:
        try:
            io.delete(path)
        except FileNotFoundError:
            continue
