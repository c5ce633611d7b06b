"""Direct uploads: a form post streamed into the landing zone, then queued for the pipeline.

The object key is built from IDs (``uploads/<org>/<upload>/data``), never from the
client's file name, which is kept only as data. Past the size cap the stream is cut,
the partial object removed and nothing recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

from starlette.concurrency import run_in_threadpool

from lakeport.db import quota
from lakeport.db.models import Upload, new_id
from lakeport.db.queue import enqueue
from lakeport.db.tenancy import Principal
from lakeport.errors import LakeportError
from lakeport.jobs.names import PROCESS_UPLOAD, upload_lock
from lakeport.runtime import Runtime
from lakeport.storage import BlobInfo
from lakeport.uploads.form_stream import ParsedForm, parse_form
from lakeport.uploads.options import UploadOptions, parse_options

WRITE_CHUNK = 1024 * 1024


def landing_key(org_id: str, upload_id: str) -> str:
    """Where an upload's bytes land: IDs only, so no client string reaches a path."""
    return f"uploads/{org_id}/{upload_id}/data"


async def receive_direct_upload(
    rt: Runtime,
    principal: Principal,
    collection_id: str,
    content_type: str | None,
    body: AsyncIterator[bytes],
) -> Upload:
    """Stream the form's file to storage, record the upload and its job in one transaction."""
    upload_id = new_id()
    key = landing_key(principal.org_id, upload_id)
    sink = _CappedSink(rt, principal, key, rt.settings.uploads.max_direct_bytes)
    try:
        form = await parse_form(content_type, body, sink.write)
        if not form.saw_file:
            raise LakeportError("bad_request", "the form has no 'file' field")
        options = parse_options(form.fields)
        info = await sink.commit()
        return await run_in_threadpool(
            _record, rt, principal, collection_id, upload_id, key, form, options, info, sink
        )
    except BaseException:
        await sink.abort()
        raise


def _record(
    rt: Runtime,
    principal: Principal,
    collection_id: str,
    upload_id: str,
    key: str,
    form: ParsedForm,
    options: UploadOptions,
    info: BlobInfo,
    sink: _CappedSink,
) -> Upload:
    """The upload row, its quota charge and its job, in one transaction."""
    with rt.sessions.begin() as session:
        quota.settle(session, principal.org_id, principal.user_id, sink.reserved, info.size_bytes)
        upload = Upload(
            id=upload_id,
            org_id=principal.org_id,
            collection_id=collection_id,
            user_id=principal.user_id,
            kind="direct",
            filename=(form.filename or "upload")[:1000],
            content_type=form.content_type,
            object_key=key,
            size_bytes=info.size_bytes,
            sha256=sink.sha256.hexdigest(),
            status="uploaded",
            options=options.model_dump(exclude_none=True),
            charged_bytes=info.size_bytes,
        )
        session.add(upload)
        session.flush()
        enqueue(session, PROCESS_UPLOAD, {"upload_id": upload_id}, lock=upload_lock(upload_id))
    sink.reserved = 0  # settled: nothing left to release
    return upload


class _CappedSink:
    """Buffers file bytes into ~1 MiB writes to storage, hashing, counting, and reserving
    quota for each write before it is made (one atomic UPDATE per MiB)."""

    def __init__(self, rt: Runtime, principal: Principal, key: str, cap: int) -> None:
        self._rt = rt
        self._principal = principal
        self._writer = rt.store.open_write(key)
        self._writer_key = key
        self._cap = cap
        self._buffer = bytearray()
        self.size = 0
        self.reserved = 0
        self.sha256 = hashlib.sha256()

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self._cap:
            raise LakeportError(
                "payload_too_large",
                f"the file is larger than the {self._cap}-byte limit for direct uploads; "
                "use a multipart upload",
                {"limit_bytes": self._cap},
            )
        self.sha256.update(data)
        self._buffer.extend(data)
        if len(self._buffer) >= WRITE_CHUNK:
            await self._flush()

    def _reserve(self, amount: int) -> None:
        with self._rt.sessions.begin() as session:
            quota.reserve(session, self._principal.org_id, self._principal.user_id, amount)
        self.reserved += amount

    async def _flush(self) -> None:
        chunk, self._buffer = bytes(self._buffer), bytearray()
        if chunk:
            await run_in_threadpool(self._reserve, len(chunk))
            await run_in_threadpool(self._writer.write, chunk)

    async def commit(self) -> BlobInfo:
        await self._flush()
        info: BlobInfo = await run_in_threadpool(self._writer.commit)
        return info

    async def abort(self) -> None:
        """Remove the partial or orphaned object and give back any reservation."""
        await run_in_threadpool(self._writer.abort)
        await run_in_threadpool(self._rt.store.delete, self._writer_key)
        if self.reserved:
            await run_in_threadpool(self._release)

    def _release(self) -> None:
        with self._rt.sessions.begin() as session:
            quota.release_reserved(
                session, self._principal.org_id, self._principal.user_id, self.reserved
            )
        self.reserved = 0
