"""The Python client against a real ``lakeport serve`` subprocess over real HTTP, on the
local store and on S3 (moto's server: the only stand-in, since real S3 cannot be reached
here). Nothing in the client is patched: uploads are stopped by a progress callback that
raises (as Ctrl-C would), URLs expire because the server signs them for one second.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from lakeport import accounts
from lakeport.client import (
    Client,
    FileChangedError,
    InvalidStateError,
    NotFoundError,
    QuotaExceededError,
    TransferProgress,
    UploadFailedError,
)
from lakeport.config import Settings
from lakeport.runtime import Runtime
from tests.dbserver import fresh_database
from tests.expiring_s3 import expiring_front
from tests.processes import lakeport_env, serving
from tests.s3server import FAKE_ACCESS_KEY, FAKE_SECRET_KEY, REGION, create_bucket

pytestmark = pytest.mark.e2e

MiB = 1024 * 1024
BIG_ROWS = 6_500_000  # ~213 MB of CSV


def make_csv(path: Path, rows: int) -> Path:
    """A deterministic CSV of ``rows`` rows (id, x, w), ~33 bytes a row, written by Arrow."""
    ids = pa.array(range(rows), pa.int64())
    x = pc.divide(pc.cast(pc.multiply(ids, 7919), pa.float64()), 13.0)
    w = pc.binary_join_element_wise("w", pc.cast(pc.bit_wise_and(ids, 1023), pa.string()), "")
    pacsv.write_csv(pa.table({"id": ids, "x": x, "w": w}), path)
    return path


@dataclass(frozen=True)
class Server:
    base_url: str
    token: str
    data_dir: Path
    database_url: str
    backend: str


@contextmanager
def lakeport_server(
    root: Path, database_url: str, moto: str | None = None, **extra: str
) -> Iterator[Server]:
    """``lakeport serve`` on the local store, or on S3 when ``moto`` names an endpoint."""
    if moto:
        extra |= {
            "LAKEPORT_STORAGE__BACKEND": "s3",
            "LAKEPORT_STORAGE__BUCKET": create_bucket(moto),
            "LAKEPORT_STORAGE__ENDPOINT_URL": moto,
            "LAKEPORT_STORAGE__ACCESS_KEY_ID": FAKE_ACCESS_KEY,
            "LAKEPORT_STORAGE__SECRET_ACCESS_KEY": FAKE_SECRET_KEY,
            "LAKEPORT_STORAGE__REGION": REGION,
        }
    root.mkdir(parents=True, exist_ok=True)
    data_dir = root / "data"
    env = lakeport_env(data_dir, database_url, **extra)
    with serving(env, log=root / "serve.log") as base:
        token = (data_dir / "admin-token").read_text().strip()
        yield Server(base, token, data_dir, database_url, "s3" if moto else "local")


@pytest.fixture(scope="module", params=["local", "s3"])
def server(request, tmp_path_factory, pg_server_url) -> Iterator[Server]:
    """One server per backend for the whole module (start-up is the slow part)."""
    moto = request.getfixturevalue("moto_endpoint") if request.param == "s3" else None
    root = tmp_path_factory.mktemp(f"serve-{request.param}")
    with fresh_database(pg_server_url) as db, lakeport_server(root, db, moto) as srv:
        yield srv


@pytest.fixture
def local_server(tmp_path, database_url) -> Iterator[Server]:
    with lakeport_server(tmp_path / "srv", database_url) as srv:
        yield srv


def connect(srv: Server, tmp_path: Path, **kwargs) -> Client:
    """A client whose resume states live in the test's own directory."""
    return Client(srv.base_url, srv.token, state_dir=tmp_path / "state", **kwargs)


@pytest.fixture
def client(server, tmp_path) -> Iterator[Client]:
    with connect(server, tmp_path) as c:
        yield c


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory) -> Path:
    return make_csv(tmp_path_factory.mktemp("big") / "big.csv", BIG_ROWS)


class Killed(Exception):
    """What the progress callback raises to stop an upload part-way (like Ctrl-C)."""


def kill_after(min_bytes: int) -> tuple[list[TransferProgress], object]:
    """A progress callback that records events and raises once ``min_bytes`` were sent."""
    events: list[TransferProgress] = []

    def progress(event: TransferProgress) -> None:
        events.append(event)
        if event.done >= min_bytes:
            raise Killed()

    return events, progress


def sent_bytes(events: list[TransferProgress]) -> int:
    """Bytes actually streamed (failed attempts taken back), not counting resumed ones."""
    return sum(e.delta for e in events if not e.resumed)


def test_small_files_go_direct_and_presigned_with_sha256(client, tmp_path):
    coll = client.create_collection("routes")["id"]
    small = make_csv(tmp_path / "small.csv", 1000)
    mid = make_csv(tmp_path / "mid.csv", 400_000)  # ~12 MB: above the direct limit
    events: list[TransferProgress] = []
    done_small = client.upload(small, coll, dataset_name="small", progress=events.append)
    assert done_small["kind"] == "direct" and done_small["rows_loaded"] == 1000
    assert events[-1].done == events[-1].total == small.stat().st_size
    done_mid = client.upload(mid, coll, dataset_name="mid")
    assert done_mid["kind"] == "presigned", done_mid
    assert done_mid["completion_status"] == "registered" and done_mid["rows_loaded"] == 400_000
    assert done_mid["sha256"] == hashlib.sha256(mid.read_bytes()).hexdigest()
    dataset = client.dataset(done_mid["dataset_id"])
    assert dataset["row_count"] == 400_000
    assert client.quota()["org"]["reserved_bytes"] == 0


@pytest.mark.slow
def test_200mb_multipart_upload_registers(client, big_csv):
    coll = client.create_collection("big")["id"]
    events: list[TransferProgress] = []
    final = client.upload(big_csv, coll, dataset_name="big", progress=events.append)
    assert final["kind"] == "multipart"
    assert final["completion_status"] == "registered", final["failure_reason"]
    assert final["rows_loaded"] == BIG_ROWS
    assert final["size_bytes"] == big_csv.stat().st_size
    assert sent_bytes(events) == big_csv.stat().st_size
    with big_csv.open("rb") as handle:  # declared with the session (duplicate detection)
        assert final["sha256"] == hashlib.file_digest(handle, "sha256").hexdigest()
    assert client.dataset(final["dataset_id"])["row_count"] == BIG_ROWS


def test_killed_upload_resumes_sending_only_missing_parts(server, tmp_path):
    path = make_csv(tmp_path / "resume.csv", 1_300_000)  # ~40 MB, 8 parts of 5 MiB
    size = path.stat().st_size
    with connect(server, tmp_path, presigned_max_bytes=MiB) as client:
        coll = client.create_collection("resume")["id"]
        # one part at a time, stopped once part 2 is streaming: part 1 is stored for sure
        _, stop_early = kill_after(5 * MiB + 1)
        with pytest.raises(Killed):
            client.upload(
                path, coll, dataset_name="r", part_size=5 * MiB, concurrency=1, progress=stop_early
            )
        state = client.states.load(client.base_url, coll, str(path.resolve()))
        assert state is not None and state.part_count == 8
        held = client.list_parts(state.upload_id)
        held_bytes = sum(p["size_bytes"] for p in held)
        assert 1 <= len(held) < 8

        events: list[TransferProgress] = []
        final = client.upload(path, coll, dataset_name="r", resume=True, progress=events.append)
    assert final["id"] == state.upload_id
    assert final["completion_status"] == "registered", final["failure_reason"]
    assert final["rows_loaded"] == 1_300_000 and final["size_bytes"] == size
    assert events[0].resumed and events[0].done == held_bytes
    assert sent_bytes(events) == size - held_bytes  # the held parts were not sent again
    assert client.states.load(client.base_url, coll, str(path.resolve())) is None


def test_resume_refuses_a_changed_file_and_a_fresh_run_aborts_the_old_session(
    local_server, tmp_path
):
    path = make_csv(tmp_path / "changing.csv", 700_000)  # ~21 MB, 5 parts
    with connect(local_server, tmp_path, presigned_max_bytes=MiB) as client:
        coll = client.create_collection("changes")["id"]
        with pytest.raises(Killed):
            client.upload(path, coll, part_size=5 * MiB, concurrency=1, progress=kill_after(1)[1])
        old = client.states.load(client.base_url, coll, str(path.resolve()))
        assert old is not None
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
        with pytest.raises(FileChangedError) as info:
            client.upload(path, coll, resume=True)
        assert info.value.code == "file_changed"
        final = client.upload(path, coll, dataset_name="changed")
        assert final["completion_status"] == "registered"
        assert client.get_upload(old.upload_id)["status"] == "aborted"
        assert client.quota()["org"]["reserved_bytes"] == 0


@contextmanager
def expiry_server(backend: str, root: Path, database_url: str, request) -> Iterator[Server]:
    """A server whose URLs live one second. On S3 its URLs point at a front that enforces
    expiry as S3 does (moto alone accepts any age; see ``tests/expiring_s3.py``)."""
    expiry = {"LAKEPORT_UPLOADS__URL_EXPIRY_SECONDS": "1"}
    if backend == "local":
        with lakeport_server(root, database_url, **expiry) as srv:
            yield srv
        return
    moto = request.getfixturevalue("moto_endpoint")
    with expiring_front(moto) as front:
        public = {"LAKEPORT_STORAGE__PUBLIC_ENDPOINT_URL": front.url}
        with lakeport_server(root, database_url, moto, **expiry, **public) as srv:
            yield srv
        assert front.expired > 0  # storage really refused an expired URL


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_expired_part_urls_are_signed_again(backend, request, tmp_path, database_url, caplog):
    """URLs live one second; the resumed run waits three before sending, so every URL it
    was given is expired, storage answers 403 and the client asks for fresh ones."""
    path = make_csv(tmp_path / "expiry.csv", 700_000)
    with (
        expiry_server(backend, tmp_path / "srv", database_url, request) as srv,
        connect(srv, tmp_path, presigned_max_bytes=MiB) as client,
    ):
        coll = client.create_collection("expiry")["id"]
        # one part at a time, stopped once part 2 is streaming: part 1 is stored for sure
        stop = kill_after(5 * MiB + 1)[1]
        with pytest.raises(Killed):
            client.upload(path, coll, part_size=5 * MiB, concurrency=1, progress=stop)

        def slow_start(event: TransferProgress) -> None:
            if event.resumed:
                time.sleep(3)  # the URLs signed for the missing parts expire meanwhile

        with caplog.at_level(logging.INFO, logger="lakeport.client.transfer"):
            final = client.upload(path, coll, resume=True, progress=slow_start)
    assert final["completion_status"] == "registered", final["failure_reason"]
    assert final["rows_loaded"] == 700_000
    retries = [r.getMessage() for r in caplog.records if r.name == "lakeport.client.transfer"]
    resigned = [m for m in retries if "403" in m]
    assert resigned and all("freshly signed" in m for m in resigned)


def test_errors_are_typed_and_carry_the_server_code(local_server, tmp_path):
    with connect(local_server, tmp_path) as client:
        small = make_csv(tmp_path / "s.csv", 10)
        with pytest.raises(NotFoundError) as missing:
            client.upload(small, "no-such-collection")
        assert missing.value.code == "not_found" and missing.value.status == 404

        coll = client.create_collection("errors")["id"]
        junk = tmp_path / "junk.csv"
        junk.write_bytes(b"\x00\x01\x02binary\xff\xfe" * 100)
        with pytest.raises(UploadFailedError) as failed:
            client.upload(junk, coll)
        assert failed.value.code in {"unsupported_format", "encoding_error", "parse_error"}
        assert failed.value.step and failed.value.upload["completion_status"] == "failed"

        done = client.upload(small, coll)
        with pytest.raises(InvalidStateError):
            client.abort(done["id"])

        settings = Settings(data_dir=local_server.data_dir, database_url=local_server.database_url)
        rt = Runtime.build(settings, migrate=False)
        try:
            accounts.set_quota(rt, "default", None, 1000)
        finally:
            rt.close()
        with pytest.raises(QuotaExceededError) as quota:
            client.upload(make_csv(tmp_path / "m.csv", 400_000), coll)
        assert quota.value.code == "quota_exceeded" and quota.value.body["limit_bytes"] == 1000
