"""Uploading a large file: ``lakeport upload`` (multipart, 6 threads) against boto3's
``upload_file`` (6 threads, 8 MiB parts) to the same S3 endpoint, and to the local store.

The lakeport contender runs the CLI's own send (``client_cmds.send_with_progress``: the
Python client under the Rich progress bar) in-process, so the figures are the CLI's
transfer without its interpreter start-up and without the pipeline it then waits for.

The script starts everything it needs and stops it afterwards:

* moto's S3 server in its own process (``python -m moto.server``), so its CPU time
  is never charged to a contender's interpreter;
* ``lakeport serve`` twice, once on the s3 backend (a bucket on that moto server) and
  once on the local backend, each with the embedded PostgreSQL in its own data directory
  (or a scratch database on ``--database-server``);
* each contender in a fresh child interpreter, which reports the seconds of the upload
  alone (imports excluded) and its own peak RSS (``VmHWM``, see ``common.peak_rss_kib``),
  plus its RSS right after the imports, so the memory the transfer itself took is visible,
  and the CPU seconds the client process burnt (all threads).

What is timed, so the two are comparable: boto3's ``upload_file`` returns after
``CompleteMultipartUpload``, when the object exists. lakeport's ``complete`` answers at
once and a worker assembles the object, so lakeport's time runs until the upload has left
``combining`` (the object exists in storage). The time to hand the part list over
(``sent``) is shown too. lakeport's default includes one read of the file for its SHA-256
(declared with the session so the server can skip duplicate content); ``--no-checksum``
leaves it out.

The file is random bytes (incompressible, cached under ``bench/out/``): the pipeline then
stops at ``infer`` with ``unsupported_format`` instead of converting a gigabyte between
contenders; the script waits for that before starting the next contender.

Usage::

    .venv/bin/python bench/upload.py                  # 1 GB (--size-mb 1024)
    .venv/bin/python bench/upload.py --size-mb 256 --repeat 3
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
import httpx
from common import MB, OUT_DIR, BenchError, print_table, run_child

LAKEPORT = str(Path(sys.executable).with_name("lakeport"))
MiB = 1024 * 1024
ACCESS_KEY, SECRET_KEY, REGION = "bench-access-key", "bench-secret-key", "us-east-1"


# -- the input --------------------------------------------------------------------------


def random_file(size_mb: int) -> Path:
    """``size_mb`` MiB of random bytes, generated once and cached."""
    path = OUT_DIR / f"upload-{size_mb}MiB.bin"
    if path.exists() and path.stat().st_size == size_mb * MiB:
        return path
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as out:
        for _ in range(size_mb):
            out.write(os.urandom(MiB))
    tmp.replace(path)
    return path


# -- servers ----------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{proc.args} exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code < 500:
                return
        time.sleep(0.2)
    raise BenchError(f"{url} did not come up")


@contextlib.contextmanager
def process(
    argv: list[str], ready_url: str, log: Path, env: dict[str, str] | None = None
) -> Iterator[None]:
    """Run ``argv`` until the block ends (SIGTERM, then SIGKILL after 60 s)."""
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            wait_until_up(ready_url, proc)
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def s3_client(endpoint: str, checksums: str = "when_supported") -> Any:
    """A boto3 S3 client; ``checksums`` is botocore's ``request_checksum_calculation``
    (its default, ``when_supported``, sends a CRC32 with every part)."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(
            s3={"addressing_style": "path"},
            max_pool_connections=32,
            request_checksum_calculation=checksums,
        ),
    )


def create_bucket(endpoint: str, name: str) -> str:
    client = s3_client(endpoint)
    try:
        client.create_bucket(Bucket=name)
    finally:
        client.close()
    return name


@dataclass(frozen=True)
class Lakeport:
    base_url: str
    token: str
    collection_id: str


@contextlib.contextmanager
def lakeport_serve(
    workdir: Path, storage: dict[str, str], db_server: str | None
) -> Iterator[Lakeport]:
    """``lakeport serve`` with its own data dir (and embedded PostgreSQL unless a server
    for scratch databases was given); yields its URL, admin token and a collection."""
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEPORT_")}
    env |= {"LAKEPORT_DATA_DIR": str(data_dir), **storage}
    with contextlib.ExitStack() as stack:
        if db_server:
            env["LAKEPORT_DATABASE_URL"] = stack.enter_context(common._scratch_database(db_server))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        argv = [LAKEPORT, "serve", "--port", str(port), "--workers", "1"]
        stack.enter_context(process(argv, f"{base}/readyz", workdir / "serve.log", env))
        token = (data_dir / "admin-token").read_text().strip()
        reply = httpx.post(
            f"{base}/v1/collections",
            json={"name": "bench"},
            headers={"Authorization": f"Bearer {token}"},
        )
        if reply.status_code != 201:
            raise BenchError(reply.text)
        yield Lakeport(base, token, reply.json()["id"])


# -- contenders (each in its own child interpreter) ----------------------------------------


def vm_rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds() -> float:
    """CPU time of this process, all threads: what the client itself burns."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def lakeport_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Upload the way ``lakeport upload`` does (the CLI's own send, Rich progress bar and
    all); time until the object exists (the upload has left ``combining``)."""
    from lakeport.cli.client_cmds import send_with_progress
    from lakeport.client import Client

    baseline = vm_rss_kib()
    state_dir = Path(spec["state_dir"])
    # multipart whatever the size (a smaller --size-mb would otherwise go presigned)
    with Client(
        spec["base_url"], spec["token"], state_dir=state_dir, presigned_max_bytes=0
    ) as client:
        cpu, started = cpu_seconds(), time.perf_counter()
        created = send_with_progress(
            client,
            Path(spec["path"]),
            spec["collection_id"],
            quiet=False,
            concurrency=spec["concurrency"],
            checksum=spec["checksum"],
        )
        sent = time.perf_counter() - started
        cpu = cpu_seconds() - cpu
        while client.get_upload(created["id"])["completion_status"] in (None, "combining"):
            time.sleep(0.05)
        stored = time.perf_counter() - started
    return {
        "seconds": stored,
        "sent": sent,
        "cpu": cpu,
        "kind": created["kind"],
        "upload_id": created["id"],
        "baseline_kib": baseline,
    }


def boto3_child(spec: dict[str, Any]) -> dict[str, Any]:
    """``upload_file`` with 6 threads and 8 MiB parts, as the AWS CLI would."""
    from boto3.s3.transfer import TransferConfig

    client = s3_client(spec["endpoint"], spec["checksums"])
    config = TransferConfig(
        multipart_threshold=8 * MiB,
        multipart_chunksize=8 * MiB,
        max_concurrency=spec["concurrency"],
    )
    completing: list[float] = []
    client.meta.events.register(
        "before-call.s3.CompleteMultipartUpload",
        lambda **_: completing.append(time.perf_counter()),
    )
    baseline = vm_rss_kib()
    cpu, started = cpu_seconds(), time.perf_counter()
    client.upload_file(spec["path"], spec["bucket"], "bench/upload.bin", Config=config)
    seconds = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    client.close()
    sent = completing[0] - started if completing else seconds
    return {"seconds": seconds, "sent": sent, "cpu": cpu, "baseline_kib": baseline}


@dataclass
class Result:
    contender: str
    backend: str
    seconds: list[float] = field(default_factory=list)
    sent: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    baseline_mb: float = 0.0

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    def add(self, task: str, spec: dict[str, Any]) -> dict[str, Any]:
        """One run in a fresh child interpreter; returns what the child reported."""
        child = run_child(Path(__file__), task, spec)
        self.seconds.append(float(child.result["seconds"]))
        self.sent.append(float(child.result.get("sent", child.result["seconds"])))
        self.cpu.append(float(child.result["cpu"]))
        self.peak_rss_mb = max(self.peak_rss_mb, child.peak_rss_mb)
        self.baseline_mb = child.result["baseline_kib"] * 1024 / MB
        return child.result


# -- the run ------------------------------------------------------------------------------


def lakeport_spec(
    args: argparse.Namespace, path: Path, work: Path, srv: Lakeport
) -> dict[str, Any]:
    return {
        "base_url": srv.base_url,
        "token": srv.token,
        "collection_id": srv.collection_id,
        "path": str(path),
        "concurrency": args.concurrency,
        "checksum": not args.no_checksum,
        "state_dir": str(work / "state"),
    }


def run_lakeport_once(result: Result, spec: dict[str, Any], srv: Lakeport) -> None:
    """One lakeport run, then let the pipeline finish with the upload (it stops at infer:
    random bytes) so it does not compete with the next run."""
    from lakeport.client import Client

    reported = result.add("lakeport", spec)
    with Client(srv.base_url, srv.token) as client:
        client.wait(reported["upload_id"], timeout=600)


def empty_bucket(endpoint: str, bucket: str) -> None:
    """moto keeps every object in memory: drop them so each run starts from the same state."""
    client = s3_client(endpoint)
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=obj["Key"])
    finally:
        client.close()


def s3_storage(endpoint: str, bucket: str) -> dict[str, str]:
    return {
        "LAKEPORT_STORAGE__BACKEND": "s3",
        "LAKEPORT_STORAGE__BUCKET": bucket,
        "LAKEPORT_STORAGE__ENDPOINT_URL": endpoint,
        "LAKEPORT_STORAGE__ACCESS_KEY_ID": ACCESS_KEY,
        "LAKEPORT_STORAGE__SECRET_ACCESS_KEY": SECRET_KEY,
        "LAKEPORT_STORAGE__REGION": REGION,
    }


def run_s3(args: argparse.Namespace, path: Path, work: Path) -> list[Result]:
    """boto3 and lakeport on one moto server, alternating which goes first in each round
    (a shared 2-core machine drifts; alternating spreads the drift over both)."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    boto, lake = Result("boto3", "s3"), Result("lakeport", "s3")
    with process(moto, f"{endpoint}/moto-api/", work / "moto.log"):
        bucket = create_bucket(endpoint, "bench-boto3")
        lake_bucket = create_bucket(endpoint, "bench-lakeport")
        boto_spec = {
            "endpoint": endpoint,
            "bucket": bucket,
            "path": str(path),
            "concurrency": args.concurrency,
            "checksums": args.boto3_checksums,
        }
        with lakeport_serve(
            work / "s3", s3_storage(endpoint, lake_bucket), args.database_server
        ) as srv:
            lake_spec = lakeport_spec(args, path, work, srv)
            for round_ in range(args.repeat):
                runs = [
                    lambda: boto.add("boto3", boto_spec),
                    lambda: run_lakeport_once(lake, lake_spec, srv),
                ]
                for run in runs if round_ % 2 == 0 else runs[::-1]:
                    run()
                    empty_bucket(endpoint, bucket)
                    empty_bucket(endpoint, lake_bucket)
    return [boto, lake]


def run_local(args: argparse.Namespace, path: Path, work: Path) -> list[Result]:
    result = Result("lakeport", "local")
    with lakeport_serve(work / "local", {}, args.database_server) as srv:
        spec = lakeport_spec(args, path, work, srv)
        for _ in range(args.repeat):
            run_lakeport_once(result, spec, srv)
    return [result]


def report(results: list[Result], size: int) -> None:
    """Two clocks per contender: ``sent`` (the bytes are in storage and the part list is
    being handed over) and ``stored`` (the object exists), each with its MB/s."""
    rows = []
    for r in results:
        sent = statistics.median(r.sent)
        rows.append(
            [
                f"{r.contender} ({r.backend})",
                f"{sent:.2f}",
                f"{size / MB / sent:.0f}",
                f"{r.median:.2f}",
                f"{size / MB / r.median:.0f}",
                f"{statistics.median(r.cpu):.1f}",
                f"{r.peak_rss_mb:.0f}",
                f"{r.peak_rss_mb - r.baseline_mb:.0f}",
            ]
        )
    headers = ["contender", "sent s", "sent MB/s", "stored s", "stored MB/s", "client CPU s"]
    print_table([*headers, "peak RSS MB", "RSS over imports MB"], rows)
    by = {(r.contender, r.backend): r for r in results}
    lake, boto = by.get(("lakeport", "s3")), by.get(("boto3", "s3"))
    if lake and boto:
        sent_ratio = statistics.median(boto.sent) / statistics.median(lake.sent)
        print("\nlakeport/boto3 throughput on s3 (moto), >1 means lakeport is faster:")
        print(f"  sent (client transfer):   {sent_ratio:.2f}")
        print(f"  stored (object complete): {boto.median / lake.median:.2f}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MiB")
    parser.add_argument("--concurrency", type=int, default=6)
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender (median)")
    parser.add_argument("--backends", default="s3,local")
    parser.add_argument(
        "--boto3-checksums",
        choices=["when_supported", "when_required"],
        default="when_supported",
        help="botocore's request_checksum_calculation for the boto3 contender. The "
        "default sends a CRC32 per part; moto then completes with cheap per-part "
        "checksums, while an upload created without one (lakeport's, or boto3's with "
        "when_required) makes moto copy and CRC the whole object at completion",
    )
    parser.add_argument(
        "--no-checksum",
        action="store_true",
        help="do not declare the file's SHA-256 (saves one read)",
    )
    parser.add_argument(
        "--database-server",
        default=None,
        help="PostgreSQL URL to create scratch databases on "
        "(default: each lakeport serve uses its embedded one)",
    )
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    path = random_file(args.size_mb)
    size = path.stat().st_size
    print(common.machine_summary())
    print(
        f"file: {size / MB:.0f} MB random bytes, concurrency {args.concurrency}, "
        f"8 MiB parts, repeat {args.repeat}, lakeport SHA-256 {not args.no_checksum}, "
        f"boto3 checksums {args.boto3_checksums}\n"
    )
    backends = args.backends.split(",")
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="upload-", dir=OUT_DIR) as tmp:
        work = Path(tmp)
        if "s3" in backends:
            results += run_s3(args, path, work)
        if "local" in backends:
            results += run_local(args, path, work)
    report(results, size)
    out = OUT_DIR / f"upload-{args.size_mb}MiB-results.json"
    out.write_text(json.dumps([r.__dict__ for r in results], indent=2))


if __name__ == "__main__":
    if not common.child_main({"lakeport": lakeport_child, "boto3": boto3_child}):
        main()
