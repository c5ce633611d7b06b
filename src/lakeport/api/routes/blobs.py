"""``/v1/blobs``: the local store's answer to S3 presigned URLs.

Mounted only when the storage backend is local. No token is needed: the URL's HMAC
signature is the credential, bound to one method, one object (or part) and an expiry.
The body is streamed to disk as it arrives, with a size cap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anyio.from_thread
from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from lakeport.api.deps import RuntimeDep
from lakeport.errors import LakeportError
from lakeport.storage.capabilities import MAX_PART_SIZE

router = APIRouter(tags=["blobs"])


@router.put("/v1/blobs/{key:path}")
async def put_blob(key: str, request: Request, rt: RuntimeDep) -> Response:
    """Store one presigned object or one multipart part; answers its ETag like S3."""
    store: Any = rt.store
    if not hasattr(store, "verify_request"):
        raise LakeportError("not_found", "this deployment's storage does not serve blobs")
    grant = store.verify_request("PUT", str(request.url), request.headers.get("content-type"))
    if grant.upload_id is not None:
        info = await _stream_into(
            request,
            lambda chunks: store.write_part(
                grant.key, grant.upload_id, grant.part_number, chunks, max_bytes=MAX_PART_SIZE
            ),
        )
    else:
        cap = rt.settings.uploads.max_presigned_bytes
        info = await _stream_into(
            request, lambda chunks: store.write_presigned_object(grant.key, chunks, max_bytes=cap)
        )
    etag = info.etag if info.etag.startswith('"') else f'"{info.etag}"'
    return Response(
        status_code=200, headers={"ETag": etag, "Access-Control-Expose-Headers": "ETag"}
    )


async def _stream_into(request: Request, write: Callable[[Iterator[bytes]], Any]) -> Any:
    """Run a blocking ``write(chunks)`` in a thread, feeding it the request body as it
    arrives from the event loop (no whole-body buffering)."""
    body = request.stream().__aiter__()

    async def next_chunk() -> bytes | None:
        try:
            chunk: bytes = await body.__anext__()
            return chunk
        except StopAsyncIteration:
            return None

    def chunks() -> Iterator[bytes]:
        while (chunk := anyio.from_thread.run(next_chunk)) is not None:
            if chunk:
                yield chunk

    return await run_in_threadpool(write, chunks())
