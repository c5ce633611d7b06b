"""Sending byte ranges of a file to signed storage URLs, with retries and ETag checks.

Storage URLs are either the local store's ``/v1/blobs`` URLs or real presigned S3 URLs,
so they are sent by an HTTP client that carries *no* lakeport token: a bearer token must
never travel to a third-party host, and the URL's signature is the only credential.

A range is streamed from disk in 1 MiB chunks, with the MD5 computed on the way: memory
per worker is one chunk, not one part, and the hash costs no second read. Each attempt
re-opens the file, so a retry re-reads from disk rather than keeping the part in memory.

Retry rules (one place, one value: :class:`RetryPolicy`): network errors, 408, 429 and
5xx are retried with exponential backoff and jitter; 403 (an expired or rejected
signature) and network errors get a freshly signed URL when the caller can sign one (S3
may answer 403 before reading the body and close the connection, which the client sees
as a broken pipe, not as the 403); an ETag that is not the MD5 of what was sent is
retried; 404 means the session is gone and any other 4xx is the caller's mistake, so
neither is retried.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from lakeport.client.errors import ClientError, NotFoundError, PartUploadError

logger = logging.getLogger(__name__)
CHUNK = 1024 * 1024
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_S3_CODE = re.compile(r"<Code>([^<]{1,100})</Code>")
_MD5_HEX = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a part is retried."""

    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 15.0

    def delay(self, attempt: int) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random, so parallel
        workers that failed together do not retry together."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))
        return float(ceiling / 2 + random.uniform(0, ceiling / 2))


@dataclass(frozen=True)
class TransferProgress:
    """One progress report: ``done`` of ``total`` bytes.

    ``delta`` is the change since the previous report; it is negative when a failed
    attempt's bytes are taken back before the retry. ``resumed`` marks the single report
    that counts bytes an earlier, interrupted run already stored (show it as done, not as
    transfer speed).
    """

    done: int
    total: int
    delta: int
    resumed: bool = False


ProgressCallback = Callable[[TransferProgress], None]


class Meter:
    """Bytes streamed so far, written by part workers and read by the reporting thread.

    Workers never call the user's progress callback themselves: the thread that waits on
    them does, so the callback runs in one thread and an exception it raises (Ctrl-C, a
    test that stops the upload) stops the upload instead of killing a worker.
    """

    def __init__(self, total: int, progress: ProgressCallback | None) -> None:
        self.total = total
        self._progress = progress
        self._lock = threading.Lock()
        self._streamed = 0
        self._reported = 0

    def add(self, n: int) -> None:
        with self._lock:
            self._streamed += n

    def report(self, resumed: bool = False) -> None:
        """Tell the callback what changed since the last report (nothing if nothing did)."""
        with self._lock:
            done = self._streamed
        delta, self._reported = done - self._reported, done
        if self._progress is not None and (delta or resumed):
            self._progress(TransferProgress(done, self.total, delta, resumed))


class Stopped(Exception):
    """Raised inside a worker when the upload is being stopped (another part failed,
    or the caller was interrupted); never retried."""


class _Retry(Exception):
    """One failed attempt that is worth another; ``resign`` asks for a fresh URL."""

    def __init__(self, message: str, resign: bool) -> None:
        super().__init__(message)
        self.resign = resign


#: ``url_for(fresh)``: the URL to PUT to; ``fresh=True`` asks for a newly signed one.
UrlSource = Callable[[bool], str]


@dataclass(frozen=True)
class Range:
    """Which bytes of which file one PUT carries, and what to call them in errors.

    ``is_part``: a multipart part, whose URL can be signed again and whose upload can be
    resumed; otherwise a whole presigned object (one URL, started over if it fails).
    """

    path: Path
    offset: int
    length: int
    label: str
    is_part: bool = True


class RangeSender:
    """PUTs file ranges to signed URLs; shared by all workers of one upload."""

    def __init__(
        self,
        http: httpx.Client,
        meter: Meter,
        stop: threading.Event,
        policy: RetryPolicy,
        verify_etag: bool = True,
    ) -> None:
        self._http = http
        self._meter = meter
        self._stop = stop
        self._policy = policy
        self._verify_etag = verify_etag

    def send(self, what: Range, url_for: UrlSource, headers: dict[str, str] | None = None) -> str:
        """PUT the range, retrying per the policy; returns the ETag storage answered."""
        resign = False
        last = "no attempt made"
        for attempt in range(self._policy.attempts):
            if attempt and self._stop.wait(self._policy.delay(attempt)):
                raise Stopped()
            if self._stop.is_set():
                raise Stopped()
            url = url_for(resign)
            try:
                return self._attempt(what, url, headers or {})
            except _Retry as exc:
                resign, last = exc.resign and what.is_part, str(exc)
                logger.info(
                    "%s: attempt %d of %d failed (%s)%s",
                    what.label,
                    attempt + 1,
                    self._policy.attempts,
                    exc,
                    "; the retry gets a freshly signed URL" if resign else "",
                )
        hint = "run the upload again with --resume to continue" if what.is_part else "try again"
        raise PartUploadError(
            "part_upload_failed",
            f"{what.label} could not be stored after {self._policy.attempts} attempts "
            f"(last error: {last}); {hint}",
        )

    def _attempt(self, what: Range, url: str, headers: dict[str, str]) -> str:
        md5 = hashlib.md5(usedforsecurity=False)
        sent = [0]
        try:
            response = self._http.put(
                url,
                content=self._chunks(what, md5, sent),
                headers={**headers, "Content-Length": str(what.length)},
            )
        except httpx.TransportError as exc:
            self._meter.add(-sent[0])
            raise _Retry(f"{type(exc).__name__}: {exc}", resign=True) from exc
        except BaseException:
            self._meter.add(-sent[0])
            raise
        if response.status_code >= 300:
            self._meter.add(-sent[0])
            self._raise_for(response, what)
        try:
            return self._checked_etag(response, md5, sent[0], what)
        except BaseException:
            self._meter.add(-sent[0])
            raise

    def _chunks(self, what: Range, md5: Any, sent: list[int]) -> Iterator[bytes]:
        """The range's bytes from disk, hashed and metered as they go out."""
        with what.path.open("rb") as handle:
            handle.seek(what.offset)
            left = what.length
            while left > 0:
                if self._stop.is_set():
                    raise Stopped()
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    raise ClientError("file_changed", f"{what.path} became shorter while sending")
                left -= len(chunk)
                md5.update(chunk)
                sent[0] += len(chunk)
                self._meter.add(len(chunk))
                yield chunk

    def _checked_etag(self, response: httpx.Response, md5: Any, sent: int, what: Range) -> str:
        """Storage's ETag, once it is known to be the MD5 of exactly the bytes sent.

        An ETag that is not a plain MD5 (SSE-KMS buckets, some S3 clones) cannot be
        checked; a client built with ``verify_etag=False`` accepts those.
        """
        etag = str(response.headers.get("etag", ""))
        bare = etag.strip('"').lower()
        if not bare:
            raise PartUploadError("etag_missing", f"storage answered no ETag for {what.label}")
        if sent == what.length and bare == md5.hexdigest():
            return etag
        if not self._verify_etag:
            return etag
        if not _MD5_HEX.match(bare):
            raise PartUploadError(
                "etag_mismatch",
                f"storage answered ETag {etag} for {what.label}, which is not an MD5; "
                "construct the client with verify_etag=False for such storage",
            )
        raise _Retry(f"ETag {etag} is not the MD5 of the bytes sent", resign=False)

    def _raise_for(self, response: httpx.Response, what: Range) -> None:
        status = response.status_code
        code = _storage_code(response)
        if status == 403:
            raise _Retry(f"403 {code}", resign=True)
        if status in _RETRY_STATUS:
            raise _Retry(f"HTTP {status} {code}", resign=False)
        if status == 404:
            raise NotFoundError(
                "not_found",
                f"storage no longer has the upload session for {what.label} ({code}); "
                "it may have been aborted or expired",
                status,
            )
        raise PartUploadError(code, f"storage refused {what.label}: HTTP {status} {code}", status)


def _storage_code(response: httpx.Response) -> str:
    """The error code from a problem+json body (local store) or S3's XML ``<Code>``."""
    text = response.text[:2000]
    if "json" in response.headers.get("content-type", ""):
        try:
            return str(response.json().get("code") or "http_error")
        except ValueError:
            return "http_error"
    match = _S3_CODE.search(text)
    return match.group(1) if match else "http_error"
