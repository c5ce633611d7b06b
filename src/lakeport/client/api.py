"""A small, typed client over the REST API.

Errors carry the server's stable ``code`` (see :mod:`lakeport.client.errors`), so
callers branch on codes, not messages. :meth:`Client.upload` picks the upload route by
size: a direct form post for small files (one request, nothing to resume), a presigned
PUT up to ``presigned_max_bytes`` (the bytes go straight to storage), and a multipart
upload beyond that (parallel parts, retries, resume). Files are streamed from disk and
never read whole into memory.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from lakeport.client.errors import (
    ClientError,
    PayloadTooLargeError,
    TransportError,
    UploadFailedError,
    from_response,
)
from lakeport.client.multipart import (
    MultipartUploader,
    UploadJob,
    discard_interrupted,
)
from lakeport.client.pool import run_jobs
from lakeport.client.resume import FileIdentity, StateStore
from lakeport.client.transfer import (
    CHUNK,
    Meter,
    ProgressCallback,
    Range,
    RangeSender,
    RetryPolicy,
)

MiB = 1024 * 1024
#: Below this a direct form post is cheapest: one request, no session to confirm.
DIRECT_MAX_BYTES = 8 * MiB
#: Up to this one presigned PUT; the server's default limit for presigned uploads.
PRESIGNED_MAX_BYTES = 100 * MiB
#: The pipeline has stopped: finished, or parked until an editor reviews a schema change.
AT_REST = frozenset({"registered", "failed", "validated", "awaiting_review"})
#: A session that ended before the pipeline started (nothing will change any more).
ENDED = frozenset({"aborted", "expired"})
ProgressFn = Callable[[int], None]
ChangeFn = Callable[[dict[str, Any]], None]
_RETRY_STATUS = frozenset({502, 503, 504})
API_ATTEMPTS = 3


class Client:
    """``Client(base_url, token)``: one instance per server and identity.

    Close it (or use it as a context manager): it holds two connection pools, one for the
    API (with the token) and one for storage URLs (never with the token).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        verify_etag: bool = True,
        state_dir: Path | None = None,
        direct_max_bytes: int = DIRECT_MAX_BYTES,
        presigned_max_bytes: int = PRESIGNED_MAX_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.verify_etag = verify_etag
        self.states = StateStore(state_dir)
        self.direct_max_bytes = direct_max_bytes
        self.presigned_max_bytes = presigned_max_bytes
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {token}"},
        )
        self._storage = httpx.Client(
            timeout=httpx.Timeout(120.0, connect=15.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        )

    def close(self) -> None:
        self._http.close()
        self._storage.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, retry: bool = False, **kwargs: Any) -> Any:
        """One API call. ``retry=True`` (only for calls safe to repeat) retries network
        errors and 502/503/504 a few times with the client's backoff: enough for a
        restarting replica, short enough that a wrong URL fails in about a second."""
        attempts = min(API_ATTEMPTS, self.retry.attempts) if retry else 1
        for attempt in range(attempts):
            if attempt:
                time.sleep(self.retry.delay(attempt))
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as exc:
                if attempt + 1 < attempts:
                    continue
                raise TransportError(
                    "connection_error", f"cannot reach lakeport at {self.base_url}: {exc}"
                ) from exc
            if response.status_code in _RETRY_STATUS and attempt + 1 < attempts:
                continue
            if response.status_code >= 400:
                raise from_response(response)
            return response.json() if response.content else None
        raise AssertionError("unreachable")

    def _sender(self, meter: Meter, stop: threading.Event) -> RangeSender:
        return RangeSender(self._storage, meter, stop, self.retry, self.verify_etag)

    # -- reading --------------------------------------------------------------------------

    def me(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/v1/me", retry=True)
        return result

    def quota(self) -> dict[str, Any]:
        """``{user: {used_bytes, reserved_bytes, limit_bytes}, org: {...}}``."""
        result: dict[str, Any] = self._request("GET", "/v1/me/quota", retry=True)
        return result

    def get_upload(self, upload_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"/v1/uploads/{upload_id}", retry=True)
        return result

    def wait(
        self,
        upload_id: str,
        *,
        interval: float = 0.5,
        timeout: float | None = None,
        on_change: ChangeFn | None = None,
    ) -> dict[str, Any]:
        """Poll until the pipeline is at rest (see ``AT_REST``); returns the upload.

        ``on_change`` sees the upload whenever its state or its steps log changed, so a
        caller can show each step as it happens.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        seen: tuple[Any, int] | None = None
        while True:
            current = self.get_upload(upload_id)
            now = (current["completion_status"], len(current.get("completion_steps_log") or []))
            if now != seen and on_change:
                on_change(current)
            seen = now
            if current["completion_status"] in AT_REST or current["status"] in ENDED:
                return current
            if deadline is not None and time.monotonic() > deadline:
                raise ClientError("timeout", f"upload {upload_id} is still {now[0]}")
            time.sleep(interval)

    def collections(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._request("GET", "/v1/collections", retry=True)["items"]
        return items

    def create_collection(self, name: str, description: str | None = None) -> dict[str, Any]:
        body = _present({"name": name, "description": description})
        result: dict[str, Any] = self._request("POST", "/v1/collections", json=body)
        return result

    def datasets(self, collection_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._request(
            "GET", f"/v1/collections/{collection_id}/datasets", retry=True
        )["items"]
        return items

    def dataset(self, dataset_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"/v1/datasets/{dataset_id}", retry=True)
        return result

    def rows(self, dataset_id: str, limit: int = 100, offset: int = 0) -> dict[str, Any]:
        result: dict[str, Any] = self._request(
            "GET",
            f"/v1/datasets/{dataset_id}/rows",
            params={"limit": limit, "offset": offset},
            retry=True,
        )
        return result

    # -- sessions (the REST calls an upload is made of) -----------------------------------

    def create_presigned(
        self, collection_id: str, *, filename: str, size_bytes: int, **fields: Any
    ) -> dict[str, Any]:
        """``{upload_id, url, method, headers, expires_at}``; PUT the bytes, then confirm."""
        body = {"filename": filename, "size_bytes": size_bytes, **_present(fields)}
        result: dict[str, Any] = self._request(
            "POST", f"/v1/collections/{collection_id}/uploads/presigned", json=body
        )
        return result

    def confirm(self, upload_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("POST", f"/v1/uploads/{upload_id}/confirm")
        return result

    def create_multipart(
        self, collection_id: str, *, filename: str, size_bytes: int, **fields: Any
    ) -> dict[str, Any]:
        """``{upload_id, part_size, part_count, parts: [{part_number, url}], expires_at}``."""
        body = {"filename": filename, "size_bytes": size_bytes, **_present(fields)}
        result: dict[str, Any] = self._request(
            "POST", f"/v1/collections/{collection_id}/uploads/multipart", json=body
        )
        return result

    def list_parts(self, upload_id: str) -> list[dict[str, Any]]:
        """The parts storage holds: ``[{part_number, etag, size_bytes}]``."""
        parts: list[dict[str, Any]] = self._request(
            "GET", f"/v1/uploads/{upload_id}/parts", retry=True
        )["parts"]
        return parts

    def sign_parts(self, upload_id: str, part_numbers: Sequence[int]) -> dict[int, str]:
        """Fresh URLs for parts (an expired URL is never fatal)."""
        answer = self._request(
            "POST",
            f"/v1/uploads/{upload_id}/parts/sign",
            json={"part_numbers": list(part_numbers)},
            retry=True,
        )
        return {int(p["part_number"]): str(p["url"]) for p in answer["parts"]}

    def complete_multipart(
        self, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> dict[str, Any]:
        """Hand the part list over; the answer (202) comes before the combine runs."""
        body = {"parts": [{"part_number": n, "etag": etag} for n, etag in parts]}
        result: dict[str, Any] = self._request(
            "POST", f"/v1/uploads/{upload_id}/complete", json=body
        )
        return result

    def abort(self, upload_id: str) -> None:
        """Abort an unfinished session (idempotent); ``invalid_state`` once processing."""
        self._request("DELETE", f"/v1/uploads/{upload_id}", retry=True)

    # -- uploads --------------------------------------------------------------------------

    def upload_direct(
        self,
        path: Path,
        collection_id: str,
        *,
        fields: dict[str, str] | None = None,
        progress: ProgressFn | None = None,
    ) -> dict[str, Any]:
        """Stream ``path`` as a form post; returns the upload object (status 202).

        Not retried: a repeated form post whose first copy arrived would be a second
        upload.
        """
        with path.open("rb") as handle:
            stream = _ProgressReader(handle, progress)
            result: dict[str, Any] = self._request(
                "POST",
                f"/v1/collections/{collection_id}/uploads",
                files={"file": (path.name, stream)},
                data=fields or {},
                timeout=httpx.Timeout(60.0, read=None, write=None),
            )
        return result

    def method_for(self, size: int) -> str:
        """``direct``, ``presigned`` or ``multipart``: the route a file of ``size`` takes."""
        if size < self.direct_max_bytes:
            return "direct"
        return "presigned" if size <= self.presigned_max_bytes else "multipart"

    def upload(
        self,
        path: Path | str,
        collection_id: str,
        *,
        dataset_name: str | None = None,
        target_dataset_id: str | None = None,
        schema_policy: str | None = None,
        options: dict[str, Any] | None = None,
        resume: bool = False,
        concurrency: int = 6,
        part_size: int | None = None,
        progress: ProgressCallback | None = None,
        wait: bool = True,
        checksum: bool = True,
        on_change: ChangeFn | None = None,
    ) -> dict[str, Any]:
        """Upload a file by the route its size calls for; wait for the pipeline.

        ``options`` holds further upload options (``format``, ``delimiter``, ``dry_run``,
        ...). ``resume=True`` continues an interrupted multipart upload of the same,
        unchanged file. ``checksum`` declares the file's SHA-256 (one extra read of the
        file) so the server can check a presigned object and skip duplicate content.
        Returns the upload at rest (or as created when ``wait=False``); raises
        :class:`UploadFailedError` when the pipeline fails.
        """
        file = Path(path)
        opts = _present(
            {
                "dataset_name": dataset_name,
                "target_dataset_id": target_dataset_id,
                "schema_policy": schema_policy,
                **(options or {}),
            }
        )
        meter = Meter(file.stat().st_size, progress)
        job = UploadJob(file, collection_id, opts, concurrency, resume, part_size, checksum)
        created = self._send(job, meter)
        if not wait:
            return created
        final = self.wait(created["id"], on_change=on_change)
        if final["completion_status"] == "failed":
            raise UploadFailedError(final)
        return final

    def _send(self, job: UploadJob, meter: Meter) -> dict[str, Any]:
        """Send the bytes by the right route; returns the upload as created."""
        identity = FileIdentity.of(job.path)
        method = self.method_for(identity.size)
        interrupted = self.states.load(self.base_url, job.collection_id, identity.path)
        if interrupted is not None and job.resume:
            method = "multipart"
        elif interrupted is not None:
            discard_interrupted(self, self.states, interrupted)
        if method == "presigned":
            try:
                return self._presigned(job, meter)
            except PayloadTooLargeError:
                method = "multipart"  # this server's presigned limit is lower: no harm done
        if method == "direct":
            return self._direct(job, meter)
        return MultipartUploader(self, self.states, self._sender, job).run(meter)

    def _direct(self, job: UploadJob, meter: Meter) -> dict[str, Any]:
        def advance(n: int) -> None:
            meter.add(n)
            meter.report()

        fields = {k: _form_value(v) for k, v in job.options.items()}
        return self.upload_direct(job.path, job.collection_id, fields=fields, progress=advance)

    def _presigned(self, job: UploadJob, meter: Meter) -> dict[str, Any]:
        """One signed PUT, then confirm; the session is aborted if the PUT fails."""
        size = meter.total
        session = self.create_presigned(
            job.collection_id,
            filename=job.path.name,
            size_bytes=size,
            sha256=job.sha256,
            **job.options,
        )
        stop = threading.Event()
        sender = self._sender(meter, stop)
        whole = Range(job.path, 0, size, "the file", is_part=False)
        try:
            put = [lambda: sender.send(whole, lambda _fresh: session["url"], session["headers"])]
            run_jobs(put, 1, meter, stop)
        except BaseException:
            with contextlib.suppress(ClientError):
                self.abort(session["upload_id"])  # release the quota reservation now
            raise
        return self.confirm(session["upload_id"])


def _present(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _form_value(value: Any) -> str:
    """Form fields are text: booleans as ``true``/``false``, lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


class _ProgressReader:
    """A file wrapper httpx streams from, reporting bytes sent."""

    def __init__(self, handle: Any, progress: ProgressFn | None) -> None:
        self._handle = handle
        self._progress = progress

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._handle.read(CHUNK if size < 0 else size)
        if data and self._progress:
            self._progress(len(data))
        return data

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk
