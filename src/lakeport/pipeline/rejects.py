"""Rows skipped under ``on_error: skip_row``, kept with the upload as NDJSON.

Each rejected row is one line ``{line, column, value, reason}`` in
``uploads/<org>/<upload>/rejects.ndjson`` in the landing zone (also for source files,
whose own storage lakeport never writes to). ``GET /v1/uploads/{id}/rejects`` reads it
back; retention deletes it with the upload row.

The file is written while the convert step streams, through the BlobStore's atomic
writer: a convert that dies half-way leaves no partial list behind, and a convert run
again after a crash writes the same list again (the readers are deterministic).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from lakeport.formats.base import REJECT_VALUE_CHARS, Reject
from lakeport.storage import BlobNotFound, BlobStore, BlobWriter

#: A reject's value is cut to this many characters (whichever reader made it).
MAX_VALUE_CHARS = REJECT_VALUE_CHARS


def rejects_key(org_id: str, upload_id: str) -> str:
    """Where an upload's rejected rows are kept (next to its landing object)."""
    return f"uploads/{org_id}/{upload_id}/rejects.ndjson"


class RejectSink:
    """A reject handler for ``read_batches`` that streams rejects to storage as they come.

    Memory stays bounded by one storage part whatever the number of bad rows.
    """

    def __init__(self, store: BlobStore, key: str) -> None:
        self._store = store
        self._key = key
        self._writer: BlobWriter = store.open_write(key)
        self.count = 0

    def __call__(self, reject: Reject) -> None:
        record: dict[str, Any] = asdict(reject)
        if isinstance(record.get("value"), str):
            record["value"] = record["value"][:MAX_VALUE_CHARS]
        self._writer.write((json.dumps(record, ensure_ascii=False) + "\n").encode())
        self.count += 1

    def close(self) -> int:
        """Keep the file when anything was rejected; returns the count.

        With nothing rejected, any list an earlier attempt of this step left is removed,
        so the stored list always matches the recorded count.
        """
        if self.count:
            self._writer.commit()
        else:
            self._writer.abort()
            self._store.delete(self._key)
        return self.count

    def abort(self) -> None:
        """Discard what was written (the step failed; it will write the list again)."""
        self._writer.abort()


def read_rejects(store: BlobStore, key: str, offset: int, limit: int) -> list[dict[str, Any]]:
    """Rejected rows ``offset .. offset+limit`` (streamed; never the whole file)."""
    out: list[dict[str, Any]] = []
    if limit <= 0:
        return out
    try:
        with store.open_read(key) as handle:
            for index, raw in enumerate(handle):
                if index < offset:
                    continue
                out.append(json.loads(raw))
                if len(out) >= limit:
                    break
    except BlobNotFound:
        return []
    return out
