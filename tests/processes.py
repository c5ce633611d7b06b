"""Starting lakeport commands as real subprocesses for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

LAKEPORT = str(Path(sys.executable).with_name("lakeport"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def lakeport_env(data_dir: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEPORT_")}
    env["LAKEPORT_DATA_DIR"] = str(data_dir)
    if database_url:
        env["LAKEPORT_DATABASE_URL"] = database_url
    env.update(extra)
    return env


@contextmanager
def serving(env: dict[str, str], workers: int = 2, log: Path | None = None) -> Iterator[str]:
    """``lakeport serve`` on a free port; yields its base URL; SIGTERM at the end."""
    port = free_port()
    out = open(log or Path(env["LAKEPORT_DATA_DIR"]).with_suffix(".log"), "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [LAKEPORT, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, proc)
        yield base
    finally:
        code = stop(proc)
        out.close()
    assert code == 0, f"lakeport serve exited with {code} on SIGTERM"


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"lakeport exited early with {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("lakeport did not become ready")


def stop(proc: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """SIGTERM and wait; returns the exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
    return proc.returncode


def poll_upload(client: httpx.Client, upload_id: str, timeout: float = 120) -> dict[str, object]:
    """Poll an upload until it is registered or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body: dict[str, object] = client.get(f"/v1/uploads/{upload_id}").json()
        if body["completion_status"] in ("registered", "failed"):
            return body
        time.sleep(0.2)
    raise TimeoutError(f"upload {upload_id} did not finish: {body}")
