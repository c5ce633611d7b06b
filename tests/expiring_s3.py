"""An HTTP front for moto's S3 server that enforces presigned-URL expiry, as S3 does.

moto accepts a presigned URL whatever its age, so on its own it cannot show that a client
recovers from an expired part URL. This front adds exactly that one S3 rule and nothing
else: a request whose ``X-Amz-Date`` + ``X-Amz-Expires`` lies in the past gets S3's answer
(403, ``<Code>AccessDenied</Code>``, "Request has expired"); every other request is passed
to moto unchanged and moto's answer (status, ETag, body) is passed back. The service signs
URLs for this front through ``LAKEPORT_STORAGE__PUBLIC_ENDPOINT_URL``, which is how a
deployment behind a different public host is configured anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx

EXPIRED_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    b"<Message>Request has expired</Message></Error>"
)
_PASSED_HEADERS = ("etag", "content-type", "x-amz-request-id")


def is_expired(url: str, now: datetime) -> bool:
    """True when a SigV4 presigned URL's lifetime (date + expires seconds) has passed."""
    query = parse_qs(urlsplit(url).query)
    if "X-Amz-Date" not in query or "X-Amz-Expires" not in query:
        return False
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return now > signed + timedelta(seconds=int(query["X-Amz-Expires"][0]))


class ExpiringFront(ThreadingHTTPServer):
    """The front's server; ``expired`` counts the requests it refused."""

    daemon_threads = True

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream = upstream.rstrip("/")
        self.http = httpx.Client(timeout=60)
        self.expired = 0
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: ExpiringFront
    protocol_version = "HTTP/1.1"

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if is_expired(self.path, datetime.now(UTC)):
            with self.server.lock:
                self.server.expired += 1
            self._answer(403, {"content-type": "application/xml"}, EXPIRED_BODY)
            return
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
        }
        target = self.server.upstream + self.path
        reply = self.server.http.put(target, content=body, headers=headers)
        passed = {k: v for k, v in reply.headers.items() if k.lower() in _PASSED_HEADERS}
        self._answer(reply.status_code, passed, reply.content)

    def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: pytest shows the test's own output, not one line per part."""


@contextmanager
def expiring_front(upstream: str) -> Iterator[ExpiringFront]:
    """Run the front on a free 127.0.0.1 port until the block ends."""
    server = ExpiringFront(upstream)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        server.http.close()
        thread.join()
