"""The client's per-part retry rules, one rule per test, against scripted storage answers.

Integration tests show the client against real storage (``tests/integration/
test_client.py``); real storage cannot be made to answer 503 or a wrong ETag on demand,
so these tests put httpx's ``MockTransport`` (httpx's own test transport, not a patch of
the client) where storage would be and script its answers.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from lakeport.client import NotFoundError, PartUploadError, RetryPolicy, TransferProgress
from lakeport.client.transfer import Meter, Range, RangeSender

FAST = RetryPolicy(attempts=4, base_delay=0.001, max_delay=0.002)
Answer = Callable[[bytes], httpx.Response]


def md5q(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def ok(body: bytes) -> httpx.Response:
    return httpx.Response(200, headers={"ETag": md5q(body)})


def status(code: int, text: str = "") -> Answer:
    return lambda _body: httpx.Response(code, text=text)


def wrong_etag(_body: bytes) -> httpx.Response:
    return httpx.Response(200, headers={"ETag": md5q(b"something else")})


class Storage:
    """Answers each PUT with the next scripted answer; remembers URLs and bodies."""

    def __init__(self, answers: list[Answer]) -> None:
        self._answers: Iterator[Answer] = iter(answers)
        self.urls: list[str] = []
        self.bodies: list[bytes] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        self.urls.append(str(request.url))
        self.bodies.append(body)
        return next(self._answers)(body)


@pytest.fixture
def part(tmp_path: Path) -> Range:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 12_000)  # ~3 MB: several 1 MiB chunks
    return Range(path, 1000, 2_500_000, "part 1")


def send(
    storage: Storage, what: Range, *, verify_etag: bool = True
) -> tuple[str, list[bool], int]:
    """Send ``what`` through a RangeSender on ``storage``; returns the ETag, the ``fresh``
    flag of every URL asked for, and the bytes the progress meter counts in the end."""
    asked: list[bool] = []

    def url_for(fresh: bool) -> str:
        asked.append(fresh)
        return f"http://storage.test/part?signed={len(asked)}"

    events: list[TransferProgress] = []
    meter = Meter(what.length, events.append)
    with httpx.Client(transport=httpx.MockTransport(storage)) as http:
        sender = RangeSender(http, meter, threading.Event(), FAST, verify_etag)
        etag = sender.send(what, url_for)
    meter.report()
    return etag, asked, events[-1].done if events else 0


def expected(what: Range) -> bytes:
    with what.path.open("rb") as handle:
        handle.seek(what.offset)
        return handle.read(what.length)


def test_the_range_is_streamed_and_its_etag_checked(part):
    storage = Storage([ok])
    etag, asked, counted = send(storage, part)
    assert storage.bodies == [expected(part)]
    assert etag == md5q(expected(part)) and asked == [False]
    assert counted == part.length


def test_5xx_and_429_are_retried_on_the_same_url(part):
    storage = Storage([status(503), status(429), ok])
    etag, asked, counted = send(storage, part)
    assert etag == md5q(expected(part))
    assert asked == [False, False, False]
    assert counted == part.length  # the failed attempts' bytes were taken back


def test_403_gets_a_freshly_signed_url(part):
    expired = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    storage = Storage([status(403, expired), ok])
    _, asked, _ = send(storage, part)
    assert asked == [False, True]
    assert storage.urls[0] != storage.urls[1]


def test_a_wrong_etag_is_sent_again(part):
    storage = Storage([wrong_etag, ok])
    etag, _, _ = send(storage, part)
    assert etag == md5q(expected(part)) and len(storage.bodies) == 2


def test_a_wrong_etag_is_accepted_only_when_verification_is_off(part):
    etag, _, _ = send(Storage([wrong_etag]), part, verify_etag=False)
    assert etag == md5q(b"something else")


def test_404_means_the_session_is_gone_and_is_not_retried(part):
    storage = Storage([status(404, "<Error><Code>NoSuchUpload</Code></Error>")])
    with pytest.raises(NotFoundError) as info:
        send(storage, part)
    assert info.value.code == "not_found" and "NoSuchUpload" in info.value.message
    assert len(storage.bodies) == 1


def test_other_4xx_is_the_callers_mistake_and_not_retried(part):
    storage = Storage([status(400, "<Error><Code>InvalidArgument</Code></Error>")])
    with pytest.raises(PartUploadError) as info:
        send(storage, part)
    assert info.value.code == "InvalidArgument" and len(storage.bodies) == 1


def test_every_attempt_failing_names_the_part_and_how_to_resume(part):
    storage = Storage([status(503)] * FAST.attempts)
    with pytest.raises(PartUploadError) as info:
        send(storage, part)
    assert info.value.code == "part_upload_failed"
    assert "part 1" in info.value.message and "--resume" in info.value.message
    assert len(storage.bodies) == FAST.attempts


def test_backoff_grows_with_equal_jitter():
    policy = RetryPolicy(attempts=6, base_delay=1.0, max_delay=5.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (5, 5.0)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > 0  # jittered, so parallel retries spread out
