"""The client commands as a user runs them: ``lakeport upload|status|abort|quota|datasets``
as subprocesses against a real ``lakeport serve`` subprocess, configured only by
``LAKEPORT_URL`` and ``LAKEPORT_TOKEN``.

The server's presigned limit is lowered to 1 MiB, so every file above the direct limit
takes the client's fallback from presigned to multipart (the route a large file takes).
"""

from __future__ import annotations

import io
import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeport.client import Client
from tests.dbserver import fresh_database
from tests.integration.test_client import Server, lakeport_server, make_csv
from tests.processes import LAKEPORT, lakeport_env
from tests.s3server import moto_s3_server

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def srv(tmp_path_factory, pg_server_url) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("cli-serve")
    limits = {"LAKEPORT_UPLOADS__MAX_PRESIGNED_BYTES": str(MiB)}
    with fresh_database(pg_server_url) as db, lakeport_server(root, db, **limits) as server:
        yield server


@pytest.fixture(scope="module")
def srv_s3(tmp_path_factory, pg_server_url) -> Iterator[Server]:
    """The same server on S3 (moto's server over HTTP, the only stand-in)."""
    root = tmp_path_factory.mktemp("cli-serve-s3")
    limits = {"LAKEPORT_UPLOADS__MAX_PRESIGNED_BYTES": str(MiB)}
    with (
        moto_s3_server() as moto,
        fresh_database(pg_server_url) as db,
        lakeport_server(root, db, moto, **limits) as server,
    ):
        yield server


@pytest.fixture
def client(srv, tmp_path) -> Iterator[Client]:
    with Client(srv.base_url, srv.token, state_dir=tmp_path / "unused") as c:
        yield c


def cli_env(srv: Server, cache: Path) -> dict[str, str]:
    env = lakeport_env(cache / "no-data-dir", None)
    del env["LAKEPORT_DATA_DIR"]  # a client needs no data directory, only URL and token
    env |= {
        "LAKEPORT_URL": srv.base_url,
        "LAKEPORT_TOKEN": srv.token,
        "XDG_CACHE_HOME": str(cache),  # resume states go here
        "COLUMNS": "200",  # no wrapped lines in Rich output
    }
    return env


def lakeport(srv: Server, cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAKEPORT, *args],
        env=cli_env(srv, cache),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _parquet(path: Path) -> Path:
    buf = io.BytesIO()
    pq.write_table(pa.table({"k": [1, 2, 3], "label": ["a", "b", None]}), buf)
    path.write_bytes(buf.getvalue())
    return path


def test_upload_shows_steps_and_summary_and_the_read_commands_work(srv, client, tmp_path):
    coll = client.create_collection("cli")["id"]
    people = make_csv(tmp_path / "people.csv", 500)
    done = lakeport(srv, tmp_path, "upload", str(people), "--collection", coll, "--dataset", "p")
    assert done.returncode == 0, done.stderr
    for text in ("✓ combine", "✓ register", "registered dataset p", "500 rows loaded", "3 columns"):
        assert text in done.stderr, done.stderr

    parquet = _parquet(tmp_path / "m.parquet")
    args = ["upload-parquet", str(parquet), "--collection", coll, "--dataset", "m", "--json"]
    as_json = lakeport(srv, tmp_path, *args)
    assert as_json.returncode == 0, as_json.stderr
    final = json.loads(as_json.stdout)
    assert final["completion_status"] == "registered" and final["rows_loaded"] == 3

    status = lakeport(srv, tmp_path, "status", final["id"])
    assert json.loads(status.stdout)["dataset_id"] == final["dataset_id"]
    p_id = next(d["id"] for d in client.datasets(coll) if d["name"] == "p")
    more = make_csv(tmp_path / "more.csv", 300)  # same columns, other rows
    append = ["upload", str(more), "--collection", coll, "--append", p_id]
    appended = lakeport(srv, tmp_path, *append, "--schema-policy", "strict")
    assert appended.returncode == 0, appended.stderr
    assert f"registered dataset p ({p_id})" in appended.stderr, appended.stderr
    shown = lakeport(srv, tmp_path, "datasets", "show", p_id)
    assert shown.returncode == 0 and json.loads(shown.stdout)["row_count"] == 800
    listed = lakeport(srv, tmp_path, "datasets", "list", "--collection", coll)
    assert listed.returncode == 0 and " p " in listed.stdout and " m " in listed.stdout
    quota = lakeport(srv, tmp_path, "quota", "--json")
    usage = json.loads(quota.stdout)
    assert usage["org"]["reserved_bytes"] == 0 and usage["org"]["used_bytes"] > 0


def test_failures_exit_nonzero_with_the_server_message(srv, client, tmp_path):
    coll = client.create_collection("cli-fail")["id"]
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x00\x01\x02binary\xff\xfe" * 100)
    failed = lakeport(srv, tmp_path, "upload", str(junk), "--collection", coll)
    assert failed.returncode == 1
    assert "failed at" in failed.stderr
    assert any(c in failed.stderr for c in ("unsupported_format", "encoding_error", "parse_error"))

    missing = lakeport(srv, tmp_path, "upload", str(junk), "--collection", "nope")
    assert missing.returncode == 1 and "error (not_found)" in missing.stderr

    both = ["upload", str(junk), "--collection", coll, "--dataset", "a", "--append", "b"]
    assert lakeport(srv, tmp_path, *both).returncode == 2


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["local", "s3"])
def test_a_killed_upload_is_resumed_with_resume(backend, request, tmp_path):
    """SIGKILL (no clean-up of any kind) once storage holds a part, then ``--resume``."""
    server: Server = request.getfixturevalue("srv" if backend == "local" else "srv_s3")
    big = make_csv(tmp_path / "big.csv", 1_700_000)  # ~54 MB: 7 parts of 8 MiB
    part_count = -(-big.stat().st_size // (8 * MiB))
    with Client(server.base_url, server.token, state_dir=tmp_path / "unused") as client:
        coll = client.create_collection("cli-resume")["id"]
        args = ["upload", str(big), "--collection", coll, "--dataset", "big"]
        proc = subprocess.Popen(
            [LAKEPORT, *args, "--concurrency", "1"],
            env=cli_env(server, tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            upload_id = _wait_for_session(tmp_path / "lakeport" / "uploads", proc)
            while not client.list_parts(upload_id):
                assert proc.poll() is None, "the upload finished before it could be killed"
                time.sleep(0.005)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
        held = client.list_parts(upload_id)
        assert 1 <= len(held) < part_count

        resumed = lakeport(server, tmp_path, *args, "--resume")
        assert resumed.returncode == 0, resumed.stderr
        assert "resuming:" in resumed.stderr and "1700000 rows loaded" in resumed.stderr
        final = client.get_upload(upload_id)
    assert final["completion_status"] == "registered" and final["rows_loaded"] == 1_700_000
    assert not list((tmp_path / "lakeport" / "uploads").glob("*.json"))


def _wait_for_session(states: Path, proc: subprocess.Popen[bytes]) -> str:
    """The upload id from the CLI's resume state file, once it has written one."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the CLI exited before starting a multipart upload"
        for state in states.glob("[!.]*.json"):  # not a state still being written
            upload_id: str = json.loads(state.read_text())["upload_id"]
            return upload_id
        time.sleep(0.01)
    raise TimeoutError("no resume state appeared")


def test_abort_releases_the_reservation(srv, client, tmp_path):
    coll = client.create_collection("cli-abort")["id"]
    before = client.quota()["org"]["reserved_bytes"]
    session = client.create_multipart(coll, filename="later.csv", size_bytes=50 * MiB)
    assert client.quota()["org"]["reserved_bytes"] == before + 50 * MiB
    aborted = lakeport(srv, tmp_path, "abort", session["upload_id"])
    assert aborted.returncode == 0, aborted.stderr
    assert client.get_upload(session["upload_id"])["status"] == "aborted"
    assert client.quota()["org"]["reserved_bytes"] == before
    unknown = lakeport(srv, tmp_path, "abort", "no-such-upload")
    assert unknown.returncode == 1 and "error (not_found)" in unknown.stderr
