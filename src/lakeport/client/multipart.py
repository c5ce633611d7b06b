"""Multipart uploads: parallel parts, re-signed URLs, and resuming a killed upload.

The session (upload id, part size) is written to a resume state file before the first
part is sent and removed once ``complete`` is accepted, so at any moment a kill leaves
either nothing to resume or a session whose stored parts ``GET /parts`` lists. A resume
checks the file's size and mtime, asks storage which parts it holds, re-hashes those
ranges locally and keeps each part whose size and ETag (the MD5 of its bytes) match;
every other part is sent again. Parts are never trusted on the client's word alone.

Without ``resume``, the client aborts a session left by an earlier run (best effort,
:func:`discard_interrupted`) so its quota reservation is released at once rather than at
session expiry.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakeport.client.errors import (
    ClientError,
    FileChangedError,
    InvalidStateError,
    NotFoundError,
    RequestInvalidError,
)
from lakeport.client.pool import run_jobs
from lakeport.client.resume import FileIdentity, ResumeState, StateStore
from lakeport.client.transfer import CHUNK, Meter, Range, RangeSender, Stopped

if TYPE_CHECKING:
    from lakeport.client.api import Client


#: ``sender_for(meter, stop)``: the client's RangeSender bound to one upload's meter.
SenderFactory = Callable[[Meter, threading.Event], RangeSender]


@dataclass
class Plan:
    """An open session and what is left to send."""

    state: ResumeState
    urls: dict[int, str] = field(default_factory=dict)
    #: part number -> ETag of parts storage already holds (verified against the file).
    held: dict[int, str] = field(default_factory=dict)

    def part_range(self, number: int) -> Range:
        offset = (number - 1) * self.state.part_size
        length = min(self.state.part_size, self.state.size - offset)
        return Range(Path(self.state.path), offset, length, f"part {number}")


@dataclass(frozen=True)
class UploadJob:
    """One file to upload and how (whichever route it ends up taking)."""

    path: Path
    collection_id: str
    options: dict[str, Any]
    concurrency: int
    resume: bool
    part_size: int | None
    checksum: bool

    @cached_property
    def sha256(self) -> str | None:
        """The file's SHA-256 when ``checksum`` is on: computed once, even when a presigned
        attempt falls back to multipart."""
        return sha256_of(self.path) if self.checksum else None


class MultipartUploader:
    """Drives one multipart upload through the client's REST calls."""

    def __init__(
        self, client: Client, store: StateStore, sender_for: SenderFactory, job: UploadJob
    ) -> None:
        self._client = client
        self._store = store
        self._sender_for = sender_for
        self._job = job
        self._identity = FileIdentity.of(job.path)

    def run(self, meter: Meter) -> dict[str, Any]:
        """Send every missing part and complete; returns the upload (``combining``)."""
        found = self._resumed() if self._job.resume else None
        if isinstance(found, dict):
            return found
        plan = found or self._fresh()
        stop = threading.Event()
        sender: RangeSender = self._sender_for(meter, stop)
        plan.held = self._verify_held(plan, meter, stop)
        missing = [n for n in range(1, plan.state.part_count + 1) if n not in plan.held]
        unsigned = [n for n in missing if n not in plan.urls]
        if unsigned:  # one call for all of them, not one per part
            plan.urls.update(self._client.sign_parts(plan.state.upload_id, unsigned))
        meter.add(sum(plan.part_range(n).length for n in plan.held))
        meter.report(resumed=bool(plan.held))
        jobs = [self._part_job(plan, sender, n) for n in missing]
        etags = dict(zip(missing, run_jobs(jobs, self._job.concurrency, meter, stop), strict=True))
        if FileIdentity.of(self._job.path) != self._identity:
            raise FileChangedError(
                "file_changed",
                f"{self._job.path} changed while it was being uploaded; upload it again",
            )
        parts = sorted({**plan.held, **etags}.items())
        upload = self._client.complete_multipart(plan.state.upload_id, parts)
        self._clear()
        return upload

    # -- sessions -------------------------------------------------------------------------

    def _key(self) -> tuple[str, str, str]:
        return (self._client.base_url, self._job.collection_id, self._identity.path)

    def _clear(self) -> None:
        self._store.clear(*self._key())

    def _fresh(self) -> Plan:
        """A new session; its state is saved before any byte is sent."""
        ident = self._identity
        sha = self._job.sha256
        made = self._client.create_multipart(
            self._job.collection_id,
            filename=self._job.path.name,
            size_bytes=ident.size,
            part_size=self._job.part_size,
            sha256=sha,
            **self._job.options,
        )
        state = ResumeState(
            upload_id=made["upload_id"],
            base_url=self._client.base_url,
            collection_id=self._job.collection_id,
            path=ident.path,
            size=ident.size,
            mtime_ns=ident.mtime_ns,
            part_size=made["part_size"],
            part_count=made["part_count"],
            options=self._job.options,
            sha256=sha,
        )
        self._store.save(state)
        return Plan(state, urls={p["part_number"]: p["url"] for p in made["parts"]})

    def _resumed(self) -> Plan | dict[str, Any] | None:
        """The saved session with the parts storage holds; the upload itself if it was
        already completed; None when there is nothing to resume."""
        state = self._store.load(*self._key())
        if state is None:
            return None
        state.check_file(self._identity)
        if state.options != self._job.options:
            raise RequestInvalidError(
                "resume_mismatch",
                f"upload {state.upload_id} was started with options {state.options}; resume "
                "with the same options, or run without --resume to start over",
            )
        try:
            held = self._client.list_parts(state.upload_id)
        except (NotFoundError, InvalidStateError):
            return self._after_session(state)
        plan = Plan(state)
        for part in held:
            number = int(part["part_number"])
            if number <= state.part_count and plan.part_range(number).length == part["size_bytes"]:
                plan.held[number] = str(part["etag"])
        return plan

    def _after_session(self, state: ResumeState) -> dict[str, Any] | None:
        """The session is no longer open: completed (carry on waiting) or gone (restart)."""
        try:
            upload = self._client.get_upload(state.upload_id)
        except NotFoundError:
            upload = None
        self._clear()
        if upload is not None and upload["status"] not in ("pending", "aborted", "expired"):
            return upload
        return None

    # -- parts ----------------------------------------------------------------------------

    def _verify_held(self, plan: Plan, meter: Meter, stop: threading.Event) -> dict[int, str]:
        """Keep the held parts whose ETag is the MD5 of the same range of the file."""
        numbers = sorted(plan.held)
        jobs = [_md5_job(plan.part_range(n), stop) for n in numbers]
        digests = run_jobs(jobs, self._job.concurrency, meter, stop)
        return {
            n: plan.held[n]
            for n, digest in zip(numbers, digests, strict=True)
            if plan.held[n].strip('"').lower() == digest
        }

    def _part_job(self, plan: Plan, sender: RangeSender, number: int) -> Callable[[], str]:
        upload_id = plan.state.upload_id

        def url_for(fresh: bool) -> str:
            if fresh or number not in plan.urls:
                plan.urls[number] = self._client.sign_parts(upload_id, [number])[number]
            return plan.urls[number]

        return lambda: sender.send(plan.part_range(number), url_for)


def discard_interrupted(client: Client, store: StateStore, state: ResumeState) -> None:
    """Abort an interrupted session (frees its quota reservation now, not at expiry)."""
    with contextlib.suppress(ClientError):  # finished, expired or gone: nothing is held
        client.abort(state.upload_id)
    store.clear(state.base_url, state.collection_id, state.path)


def _md5_job(what: Range, stop: threading.Event) -> Callable[[], str]:
    def run() -> str:
        digest = hashlib.md5(usedforsecurity=False)
        with what.path.open("rb") as handle:
            handle.seek(what.offset)
            left = what.length
            while left > 0:
                if stop.is_set():
                    raise Stopped()
                chunk = handle.read(min(CHUNK, left))
                if not chunk:
                    break
                digest.update(chunk)
                left -= len(chunk)
        return digest.hexdigest()

    return run


def sha256_of(path: Path) -> str:
    """The file's SHA-256, read in chunks (never the whole file in memory)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
