"""Writing converted data as Parquet files into a table's data directory, before commit.

Files are named from the upload ID and a sequence number
(``<location>/data/lp-<upload>-<nnnnn>.parquet``), so a convert step that is interrupted
and run again overwrites the same names instead of leaving strays, and a failed upload
can delete exactly what it wrote. They carry no Iceberg field IDs: ``add_files`` maps
them by name. Until the commit references them no reader can see them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from queue import Empty, Full, Queue
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.io import FileIO

#: Roll to a new file after this many bytes of Arrow data (~128 MB of Parquet or less).
TARGET_FILE_BYTES = 512 * 1024 * 1024
COMPRESSION = "zstd"
#: Arrow bytes buffered per row group, and the row cap per group.
ROW_GROUP_BYTES = 32 * 1024 * 1024
ROW_GROUP_ROWS = 1_000_000
#: Batches read ahead of the writer (bounded: memory stays a few batches).
READ_AHEAD = 2


@contextmanager
def read_ahead(batches: Iterable[pa.RecordBatch]) -> Iterator[Iterator[pa.RecordBatch]]:
    """Parse on a second thread while this one encodes Parquet: both pyarrow halves
    release the GIL, so on two cores reading and writing overlap instead of alternating.
    A reader error is re-raised in the consumer; leaving early stops the reader."""
    queue: Queue[pa.RecordBatch | BaseException | None] = Queue(maxsize=READ_AHEAD)
    stop = threading.Event()

    def produce() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        queue.put(batch, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(None)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            queue.put(exc)

    def consume() -> Iterator[pa.RecordBatch]:
        while (item := queue.get()) is not None:
            if isinstance(item, BaseException):
                raise item
            yield item

    thread = threading.Thread(target=produce, name="lakeport-read-ahead", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        while thread.is_alive():
            try:
                queue.get_nowait()
            except Empty:
                thread.join(0.05)


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
) -> list[StagedFile]:
    """Stream ``batches`` into Parquet files under ``location``; memory stays one batch.

    An empty input still yields one header-only file, so the schema lands. If reading
    fails midway (a bad row), every file written so far is deleted before re-raising.
    """
    written: list[str] = []
    try:
        with read_ahead(batches) as ahead:
            return _write_all(io, location, upload_id, schema, ahead, target_file_bytes, written)
    except BaseException:
        delete_staged(io, written)
        raise


def _write_all(
    io: FileIO,
    location: str,
    upload_id: str,
    schema: pa.Schema,
    batches: Iterable[pa.RecordBatch],
    target_file_bytes: int,
    written: list[str],
) -> list[StagedFile]:
    staged: list[StagedFile] = []
    writer: _RollingFile | None = None
    for batch in batches:
        if writer is None:
            writer = _RollingFile(io, staged_path(location, upload_id, len(staged)), schema)
            written.append(writer.path)
        writer.write(batch)
        if writer.arrow_bytes >= target_file_bytes:
            staged.append(writer.close())
            writer = None
    if writer is None and not staged:
        writer = _RollingFile(io, staged_path(location, upload_id, 0), schema)
        written.append(writer.path)
    if writer is not None:
        staged.append(writer.close())
    return staged


class _RollingFile:
    """One Parquet file being written through the table's FileIO."""

    def __init__(self, io: FileIO, path: str, schema: pa.Schema) -> None:
        self.path = path
        self.rows = 0
        self.arrow_bytes = 0
        self._stream: Any = io.new_output(path).create(overwrite=True)
        self._writer = pq.ParquetWriter(self._stream, schema, compression=COMPRESSION)
        self._pending: list[pa.RecordBatch] = []
        self._pending_bytes = 0

    def write(self, batch: pa.RecordBatch) -> None:
        """Buffer to ``ROW_GROUP_BYTES`` so row groups are few and large (readers and the
        writer both pay per row group), then write them in one call."""
        self._pending.append(batch)
        self._pending_bytes += batch.nbytes
        self.rows += batch.num_rows
        self.arrow_bytes += batch.nbytes
        if self._pending_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._writer.write_table(
                pa.Table.from_batches(self._pending), row_group_size=ROW_GROUP_ROWS
            )
        self._pending, self._pending_bytes = [], 0

    def close(self) -> StagedFile:
        self._flush()
        self._writer.close()
        self._stream.close()
        return StagedFile(self.path, self.rows)


def delete_staged(io: FileIO, paths: Iterable[str]) -> None:
    """Remove staged files (after a failure, or files the commit never took)."""
    for path in paths:
        try:
            io.delete(path)
        except FileNotFoundError:
            continue
