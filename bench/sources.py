"""Prefix sources: many small files through real workers, and discovery of a big prefix.

Two measurements, each on the ``local`` backend and on ``s3`` (moto's HTTP server in its
own process stands in for S3):

1. **Files per second, end to end.** N small CSV files (1-10 KB each, default 10,000)
   under a prefix; a source on it, a manual run started through the API (in-process
   ``TestClient``), and ``W`` real worker processes (``lakeport worker --concurrency C``,
   default 2 x 2) that discover, convert and commit them. Timed from the run request to
   the run's end (``started_at`` to ``finished_at`` of the run row), with the workers
   already started and registered, so interpreter start-up is not counted.

   The **naive baseline** is lakeport itself with group commits switched off: the same
   workers, the same pipeline, but every file's register step commits its own Iceberg
   snapshot (the path a single upload takes), because the bench's worker entry patches
   ``joins_group`` to return False (``--worker naive``; nothing in ``src/`` changes).
   That isolates exactly what grouping buys; a hand-written pyiceberg loop would also
   differ in parsing, inference and bookkeeping. A per-file commit rewrites a manifest
   list that grows with every snapshot, so the baseline slows as it goes: it runs on
   its own, smaller file set (``--baseline-files``, default 1,000), which flatters it,
   and lakeport is measured on that same smaller set too, for a like-for-like ratio.

2. **Discovery.** ``lakeport.sources.discovery.discover`` alone (list the prefix page by
   page, record each page with one statement) in a child process, on a run row created
   through the API (its queued discovery job is never claimed: no worker runs), for
   ``--discover`` object counts (default 10,000 and 100,000 tiny files). Prints seconds and
   peak RSS (``VmHWM``), RSS before discovery started and the peak's growth above it, and
   the ratio of peaks between the largest and the smallest count.

Every run is checked: the run ends ``succeeded`` with every file succeeded, its
``rows_loaded`` equals the generated row count, and the Iceberg table read with pyiceberg
holds exactly the generated rows (count, distinct ids, sum of ids).

Usage::

    .venv/bin/python bench/sources.py                     # everything, default counts
    .venv/bin/python bench/sources.py --files 2000 --baseline-files 500 --discover 10000,50000
    .venv/bin/python bench/sources.py --backends local --profile
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
from common import (
    LOCAL_PG,
    OUT_DIR,
    BenchError,
    child_main,
    load_text,
    machine_summary,
    measure,
    print_profile,
    print_table,
    run_child,
    scratch_dir,
)

GENERATOR_VERSION = "v1"
FILES_PER_DIR = 1000
LAKEPORT = str(Path(sys.executable).with_name("lakeport"))
SCRIPT = Path(__file__).resolve()
TOKEN = "lp_bench_sources_admin_token"
ACCESS_KEY, SECRET_KEY, REGION = "bench-access-key", "bench-secret-key", "us-east-1"
HEADER = "id,file,ts,amount,code\n"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
#: The goals from the issue, stated so the verdicts are checkable.
SPEEDUP_GOAL = 10.0
FLAT_RSS_LIMIT = 1.25


# -- inputs ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Drop:
    """A generated set of files under ``root`` (keys are paths relative to it)."""

    root: Path
    files: int
    rows: int
    size_bytes: int
    id_sum: int
    min_bytes: int
    max_bytes: int

    def keys(self) -> Iterator[tuple[str, Path]]:
        for path in sorted(self.root.rglob("*.csv")):
            yield path.relative_to(self.root).as_posix(), path


def _file_csv(index: int) -> tuple[str, int, int]:
    """File ``index``'s text (1-10 KB, deterministic), its row count and the sum of its ids.

    Ids are ``index * 1000 + row``: unique across files, so the read-back can tell a
    duplicate or a missing file from the ids alone."""
    rng = random.Random(index)
    rows = rng.randint(21, 205)
    lines = [HEADER]
    for row in range(rows):
        month, day, hour = 1 + rng.randrange(12), 1 + rng.randrange(28), rng.randrange(24)
        ts = f"2025-{month:02d}-{day:02d}T{hour:02d}:00:00"
        code = "".join(rng.choice(LETTERS) for _ in range(8))
        lines.append(f"{index * 1000 + row},{index},{ts},{rng.uniform(0, 9999):.2f},{code}\n")
    return "".join(lines), rows, sum(index * 1000 + r for r in range(rows))


def _key(index: int) -> str:
    return f"part={index // FILES_PER_DIR:03d}/f{index:06d}.csv"


def ensure_csv_drop(files: int) -> Drop:
    """``files`` CSVs of 1-10 KB in directories of 1,000, cached under ``bench/out``."""
    root = OUT_DIR / f"sources-csv-{files}-{GENERATOR_VERSION}"
    manifest = root.with_suffix(".json")
    if manifest.exists() and root.is_dir():
        return Drop(root=root, **json.loads(manifest.read_text()))
    shutil.rmtree(root, ignore_errors=True)
    rows = size = id_sum = 0
    sizes: list[int] = []
    for index in range(files):
        text, n, ids = _file_csv(index)
        path = root / _key(index)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        rows, id_sum = rows + n, id_sum + ids
        sizes.append(len(text))
        size += len(text)
    figures = {
        "files": files,
        "rows": rows,
        "size_bytes": size,
        "id_sum": id_sum,
        "min_bytes": min(sizes),
        "max_bytes": max(sizes),
    }
    manifest.write_text(json.dumps(figures))
    return Drop(root=root, **figures)


def ensure_tiny_drop(files: int) -> Drop:
    """``files`` tiny CSVs (a header and one row) in directories of 1,000, for discovery."""
    root = OUT_DIR / f"sources-tiny-{files}-{GENERATOR_VERSION}"
    marker = root.with_suffix(".done")
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        for index in range(files):
            path = root / _key(index)
            if index % FILES_PER_DIR == 0:
                path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"id\n{index}\n")
        marker.touch()
    return Drop(root, files, files, 0, 0, 0, 0)


def reset_etag_cache(drop: Drop) -> None:
    """Forget the local store's ETag sidecars (``<root>/.lakeport``) written by an earlier
    run, so every contender starts with a cold listing that hashes each file."""
    shutil.rmtree(drop.root / ".lakeport", ignore_errors=True)


# -- moto, as its own process -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def moto_server(log: Path) -> Iterator[str]:
    """``python -m moto.server`` on a free port (its own process: its CPU is not ours)."""
    import httpx

    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    with log.open("ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"moto did not start (see {log})")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{endpoint}/moto-api/", timeout=2).status_code == 200:
                        break
                time.sleep(0.2)
            yield endpoint
        finally:
            _stop(proc)


def s3_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}, max_pool_connections=32),
    )


def upload_drop(endpoint: str, bucket: str, drop: Drop) -> float:
    """Create ``bucket`` and put every file of ``drop`` into it (16 threads); seconds."""
    client = s3_client(endpoint)
    started = time.perf_counter()
    try:
        client.create_bucket(Bucket=bucket)

        def put(item: tuple[str, Path]) -> None:
            client.put_object(Bucket=bucket, Key=item[0], Body=item[1].read_bytes())

        with ThreadPoolExecutor(16) as pool:
            for _ in pool.map(put, drop.keys()):
                pass
    finally:
        client.close()
    return time.perf_counter() - started


def connection_conf(backend: str, drop: Drop, endpoint: str | None, bucket: str) -> dict[str, str]:
    """The ``drop`` connection as ``LAKEPORT_CONNECTIONS`` spells it."""
    if backend == "local":
        return {"backend": "local", "root": str(drop.root)}
    assert endpoint is not None
    return {
        "backend": "s3",
        "bucket": bucket,
        "endpoint_url": endpoint,
        "region": REGION,
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
    }


# -- a throwaway lakeport with a source ------------------------------------------------------


@dataclass
class Lakeport:
    """A scratch database and data dir, a runtime and API in-process, one source."""

    workdir: Path
    database_url: str
    conf: dict[str, str]
    rt: Any = None
    api: Any = None
    collection_id: str = ""
    source_id: str = ""

    def env(self) -> dict[str, str]:
        """The environment of a worker process (as tests/processes.py ``lakeport_env``)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAKEPORT_")}
        env |= {
            "LAKEPORT_DATA_DIR": str(self.workdir / "data"),
            "LAKEPORT_DATABASE_URL": self.database_url,
            "LAKEPORT_CONNECTIONS": json.dumps({"drop": self.conf}),
        }
        return env

    def spec(self) -> dict[str, Any]:
        return {
            "data_dir": str(self.workdir / "data"),
            "database_url": self.database_url,
            "conf": self.conf,
        }


def _settings(data_dir: str, database_url: str, conf: dict[str, str]) -> Any:
    from lakeport.config import Settings, StorageSettings

    return Settings(
        data_dir=Path(data_dir),
        database_url=database_url,
        bootstrap_token=TOKEN,
        connections={"drop": StorageSettings.model_validate(conf)},
    )


@contextlib.contextmanager
def lakeport(conf: dict[str, str], tag: str) -> Iterator[Lakeport]:
    """A fresh lakeport (scratch database on 127.0.0.1:5432) with a source on ``conf``."""
    from fastapi.testclient import TestClient

    from lakeport.accounts import bootstrap
    from lakeport.api.app import create_app
    from lakeport.runtime import Runtime

    workdir = scratch_dir(f"sources-{tag}-")
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        url = stack.enter_context(common._scratch_database(LOCAL_PG))
        lp = Lakeport(workdir, url, conf)
        lp.rt = Runtime.build(_settings(str(workdir / "data"), url, conf))
        stack.callback(lp.rt.close)
        bootstrap(lp.rt)
        lp.api = TestClient(create_app(lp.rt))
        lp.api.headers["Authorization"] = f"Bearer {TOKEN}"
        lp.collection_id = _json(lp.api.post("/v1/collections", json={"name": "bench"}), 201)["id"]
        body = {
            "name": "drop",
            "connection": "drop",
            "pattern": "**/*.csv",
            "dataset_name": "events",
        }
        url_ = f"/v1/collections/{lp.collection_id}/sources"
        lp.source_id = _json(lp.api.post(url_, json=body), 201)["id"]
        yield lp


def _json(reply: Any, status: int) -> Any:
    if reply.status_code != status:
        raise BenchError(f"{reply.request.method} {reply.request.url}: {reply.text}")
    return reply.json()


# -- workers ---------------------------------------------------------------------------


def _stop(proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def workers(
    lp: Lakeport, mode: str, count: int, concurrency: int, profile_dir: Path | None
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` worker processes, registered with procrastinate before this yields."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for n in range(count):
            if mode == "lakeport" and profile_dir is None:
                argv = [LAKEPORT, "worker", "--concurrency", str(concurrency)]
            else:
                prof = str(profile_dir / f"worker-{n}.prof") if profile_dir else ""
                argv = [sys.executable, str(SCRIPT), "--worker", mode, str(concurrency), prof]
            log = (lp.workdir / f"worker-{n}.log").open("ab")
            procs.append(subprocess.Popen(argv, env=lp.env(), stdout=log, stderr=subprocess.STDOUT))
            log.close()
        _wait_registered(lp, procs)
        yield procs
    finally:
        for proc in procs:
            _stop(proc)


def _wait_registered(lp: Lakeport, procs: list[subprocess.Popen[bytes]]) -> None:
    from sqlalchemy import text

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise BenchError(f"a worker exited early; see {lp.workdir}/worker-*.log")
        with lp.rt.engine.connect() as conn:
            n = conn.execute(text("SELECT count(*) FROM procrastinate_workers")).scalar_one()
        if n >= len(procs):
            return
        time.sleep(0.2)
    raise BenchError("workers did not register within 180 s")


def worker_main(mode: str, concurrency: int, profile_to: str) -> None:
    """``--worker MODE C [PROF]``: the ``lakeport worker`` command, in this interpreter.

    ``naive`` switches group commits off (every file commits its own snapshot) by making
    ``joins_group`` answer False; ``lakeport`` changes nothing. With ``PROF``, the job
    functions (which procrastinate runs on threads) and the event loop run under cProfile
    until SIGTERM, and the merged stats are dumped there."""
    from lakeport.cli.main import app
    from lakeport.pipeline import group_request, register

    if mode == "naive":

        def never(upload: Any, mode: str) -> bool:
            return False

        register.joins_group = never  # type: ignore[attr-defined]  # the name register.py calls
        group_request.joins_group = never
    elif mode != "lakeport":
        raise SystemExit(f"unknown worker mode {mode!r}")
    profilers = _profile_jobs() if profile_to else []

    def run() -> None:
        app(["worker", "--concurrency", str(concurrency)], standalone_mode=False)

    if not profile_to:
        run()
        return
    import cProfile
    import pstats

    main_thread = cProfile.Profile()
    main_thread.runcall(run)
    stats = pstats.Stats(main_thread)
    for profiler in profilers:
        stats.add(profiler)
    stats.dump_stats(profile_to)


def _profile_jobs() -> list[Any]:
    """Wrap the job entry points so each job thread records into its own cProfile (a
    profiler only sees the thread it was enabled on); returns the live list of them."""
    import cProfile
    import functools
    import threading

    from lakeport.jobs import tasks

    profilers: list[cProfile.Profile] = []
    local = threading.local()
    lock = threading.Lock()

    def profiled(fn: Any) -> Any:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            profiler = getattr(local, "profiler", None)
            if profiler is None:
                profiler = local.profiler = cProfile.Profile()
                with lock:
                    profilers.append(profiler)
            return profiler.runcall(fn, *args, **kwargs)

        return wrapper

    for name in ("process_upload", "discover_source", "commit_group_job"):
        setattr(tasks, name, profiled(getattr(tasks, name)))
    return profilers


# -- one end-to-end run -------------------------------------------------------------------


@dataclass
class RunResult:
    backend: str
    contender: str
    files: int
    seconds: float = 0.0
    wall_seconds: float = 0.0
    worker_cpu_seconds: float = 0.0
    machine_busy: float = 0.0
    quarters: list[float] = field(default_factory=list)
    snapshots: int = 0
    check: str = "not run"
    error: str | None = None
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def files_per_second(self) -> float | None:
        return self.files / self.seconds if self.seconds and not self.error else None


def run_source(
    lp: Lakeport, drop: Drop, result: RunResult, args: argparse.Namespace, profile: Path | None
) -> None:
    """Start workers, run the source once, wait for the end, check every row."""
    mode = "naive" if result.contender == "naive" else "lakeport"
    cpu_before = _children_cpu()
    with workers(lp, mode, args.workers, args.concurrency, profile) as procs:
        started, busy_before = time.perf_counter(), _machine_cpu()
        reply = _json(lp.api.post(f"/v1/sources/{lp.source_id}/runs"), 202)
        state = _wait_run(lp, reply["run"]["id"], procs, args.timeout)
        result.wall_seconds = time.perf_counter() - started
        busy_after = _machine_cpu()
        busy, total = busy_after[0] - busy_before[0], busy_after[1] - busy_before[1]
        result.machine_busy = busy / total if total else 0.0
    result.worker_cpu_seconds = _children_cpu() - cpu_before
    result.seconds = _run_seconds(state)
    result.quarters = _quarter_rates(lp, state)
    result.counts = state["counts"]
    result.check = _check(lp, drop, state, result)


def _machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from ``/proc/stat``: the share of
    the machine in use (by anything: workers, PostgreSQL, moto, other sessions)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle, sum(values[:8])


def _children_cpu() -> float:
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return kids.ru_utime + kids.ru_stime


def _wait_run(
    lp: Lakeport, run_id: str, procs: list[subprocess.Popen[bytes]], timeout: float
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last = -1
    while time.monotonic() < deadline:
        state: dict[str, Any] = _json(lp.api.get(f"/v1/runs/{run_id}"), 200)
        if state["status"] != "running":
            return state
        if any(p.poll() is not None for p in procs):
            raise BenchError(f"a worker died; see {lp.workdir}/worker-*.log")
        done = state["counts"]["succeeded"] + state["counts"]["failed"]
        if done // 1000 != last // 1000:
            print(f"    … {done} files done", flush=True)
        last = done
        time.sleep(0.25)
    raise BenchError(f"the run did not end within {timeout:.0f} s")


def _at(value: Any) -> Any:
    from datetime import datetime

    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _run_seconds(state: dict[str, Any]) -> float:
    return float((_at(state["finished_at"]) - _at(state["started_at"])).total_seconds())


def _quarter_rates(lp: Lakeport, state: dict[str, Any]) -> list[float]:
    """Files per second in each quarter of the files, in the order they were registered
    (``uploads.updated_at``): shows whether a contender slows down as the table grows."""
    from sqlalchemy import text

    with lp.rt.engine.connect() as conn:
        done = list(
            conn.execute(
                text(
                    "SELECT updated_at FROM uploads WHERE kind = 'source'"
                    " AND completion_status = 'registered' ORDER BY updated_at"
                )
            ).scalars()
        )
    if len(done) < 4:
        return []
    start = _at(state["started_at"])
    edges = [start, *(done[(len(done) * q) // 4 - 1] for q in (1, 2, 3, 4))]
    counts = [(len(done) * q) // 4 - (len(done) * (q - 1)) // 4 for q in (1, 2, 3, 4)]
    spans = [(b - a).total_seconds() for a, b in itertools.pairwise(edges)]
    return [n / span if span > 0 else 0.0 for n, span in zip(counts, spans, strict=True)]


def _check(lp: Lakeport, drop: Drop, state: dict[str, Any], result: RunResult) -> str:
    """``ok`` or what is wrong: run outcome, counts, and the table read with pyiceberg."""
    import pyarrow.compute as pc

    problems = []
    counts = state["counts"]
    if state["status"] != "succeeded":
        problems.append(f"run {state['status']}")
    if counts["succeeded"] != drop.files or counts["failed"]:
        problems.append(f"{counts['succeeded']} succeeded, {counts['failed']} failed")
    if state["rows_loaded"] != drop.rows:
        problems.append(f"rows_loaded {state['rows_loaded']} != {drop.rows}")
    items = _json(lp.api.get(f"/v1/collections/{lp.collection_id}/datasets"), 200)["items"]
    if len(items) != 1:
        return "; ".join([*problems, f"{len(items)} datasets"])
    table = lp.rt.catalog.load_table(
        (*items[0]["table"]["namespace"].split("."), items[0]["table"]["name"])
    )
    result.snapshots = len(table.snapshots())
    ids = table.scan(selected_fields=("id",)).to_arrow().column("id")
    if len(ids) != drop.rows or pc.count_distinct(ids).as_py() != drop.rows:
        problems.append(f"table has {len(ids)} rows, {pc.count_distinct(ids).as_py()} ids")
    elif pc.sum(ids).as_py() != drop.id_sum:
        problems.append("sum of ids differs")
    return "; ".join(problems) or "ok"


def run_contender(
    backend: str,
    contender: str,
    drop: Drop,
    args: argparse.Namespace,
    s3: tuple[str, str] | None,
    profile: Path | None = None,
) -> RunResult:
    label = f"{contender} ({backend}, {drop.files:,} files)"
    print(f"  {label} …", flush=True)
    if drop.size_bytes:
        print(
            f"    input: {drop.size_bytes / 1e6:.1f} MB, {drop.rows:,} rows, files of "
            f"{drop.min_bytes / 1e3:.1f}-{drop.max_bytes / 1e3:.1f} KB",
            flush=True,
        )
    result = RunResult(backend, contender, drop.files)
    if backend == "local":
        reset_etag_cache(drop)
    endpoint, bucket = s3 if s3 else (None, "")
    conf = connection_conf(backend, drop, endpoint, bucket)
    try:
        with lakeport(conf, contender) as lp:
            run_source(lp, drop, result, args, profile)
    except BenchError as exc:
        result.error = str(exc)
        print(f"    failed: {exc}", flush=True)
    fps = result.files_per_second
    print(
        f"    {result.seconds:.1f} s, {fps or 0:.1f} files/s, {result.snapshots} snapshots, "
        f"check {result.check}",
        flush=True,
    )
    return result


# -- discovery ----------------------------------------------------------------------------


@dataclass
class DiscoveryResult:
    backend: str
    objects: int
    seconds: float = 0.0
    rss_before_mb: float = 0.0
    peak_rss_mb: float = 0.0
    discovered: int = 0
    error: str | None = None


def discover_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Child side: ``discover`` of one run, nothing else (the child reports its VmHWM)."""
    from lakeport.runtime import Runtime
    from lakeport.sources.discovery import discover

    rt = Runtime.build(
        _settings(spec["data_dir"], spec["database_url"], spec["conf"]), migrate=False
    )
    rt.store_for("drop")
    rss_before = _vm_kib("VmRSS")
    figures = measure(lambda: discover(rt, spec["run_id"]))
    rt.close()
    return {**figures, "rss_before_kib": rss_before}


def _vm_kib(field_name: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field_name}:"):
            return int(line.split()[1])
    return 0


def run_discovery(backend: str, drop: Drop, s3: tuple[str, str] | None) -> DiscoveryResult:
    """Create a run through the API, then time ``discover`` for it in a child."""
    print(f"  discovery ({backend}, {drop.files:,} objects) …", flush=True)
    result = DiscoveryResult(backend, drop.files)
    if backend == "local":
        reset_etag_cache(drop)
    endpoint, bucket = s3 if s3 else (None, "")
    conf = connection_conf(backend, drop, endpoint, bucket)
    try:
        with lakeport(conf, "discover") as lp:
            run = _json(lp.api.post(f"/v1/sources/{lp.source_id}/runs"), 202)["run"]
            child = run_child(SCRIPT, "discover", {**lp.spec(), "run_id": run["id"]})
            state = _json(lp.api.get(f"/v1/runs/{run['id']}"), 200)
    except BenchError as exc:
        result.error = str(exc)
        print(f"    failed: {exc}", flush=True)
        return result
    result.seconds = float(child.result["seconds"])
    result.rss_before_mb = child.result["rss_before_kib"] * 1024 / common.MB
    result.peak_rss_mb = child.peak_rss_mb
    result.discovered = int(state["counts"]["discovered"])
    if result.discovered != drop.files:
        result.error = f"discovered {result.discovered} of {drop.files}"
    print(
        f"    {result.seconds:.1f} s, peak RSS {result.peak_rss_mb:.0f} MB, "
        f"{result.discovered:,} discovered",
        flush=True,
    )
    return result


# -- report -------------------------------------------------------------------------------


def report_runs(results: list[RunResult]) -> None:
    print("\nEnd to end (files/s = files / (run finished_at - started_at)):\n")
    rows = []
    for r in results:
        fps = r.files_per_second
        rows.append(
            [
                r.backend,
                r.contender,
                f"{r.files:,}",
                f"{r.seconds:.1f}" if not r.error else "-",
                f"{fps:.1f}" if fps else "-",
                " / ".join(f"{q:.1f}" for q in r.quarters) or "-",
                f"{r.worker_cpu_seconds:.0f}",
                f"{r.machine_busy:.0%}",
                str(r.snapshots),
                r.error or r.check,
            ]
        )
    headers = ["backend", "contender", "files", "seconds", "files/s", "by quarter"]
    headers.append("worker CPU s")
    print_table([*headers, "machine busy", "snapshots", "check"], rows)
    print()
    for backend in dict.fromkeys(r.backend for r in results):
        naive = [r for r in results if r.backend == backend and r.contender == "naive"]
        base = naive[0].files_per_second if naive else None
        for r in results:
            fps = r.files_per_second
            if r.backend != backend or r.contender == "naive" or not base or not fps:
                continue
            ratio = fps / base
            verdict = "met" if ratio >= SPEEDUP_GOAL else "NOT met"
            print(
                f"{backend}: lakeport on {r.files:,} files ÷ naive on {naive[0].files:,} files "
                f"= {ratio:.1f}x (goal ≥ {SPEEDUP_GOAL:.0f}x: {verdict})"
            )


def report_discovery(results: list[DiscoveryResult]) -> None:
    print("\nDiscovery alone (`discover`, in a child process):\n")
    rows = [
        [
            r.backend,
            f"{r.objects:,}",
            f"{r.seconds:.1f}" if not r.error else "-",
            f"{r.objects / r.seconds:,.0f}" if r.seconds else "-",
            f"{r.rss_before_mb:.0f}",
            f"{r.peak_rss_mb:.0f}",
            f"{r.peak_rss_mb - r.rss_before_mb:.1f}",
            r.error or "ok",
        ]
        for r in results
    ]
    headers = ["backend", "objects", "seconds", "objects/s", "RSS before MB", "peak RSS MB"]
    print_table([*headers, "growth MB", "check"], rows)
    print()
    for backend in dict.fromkeys(r.backend for r in results):
        ok = sorted((r for r in results if r.backend == backend and not r.error), key=_objects)
        if len(ok) < 2:
            continue
        small, big = ok[0], ok[-1]
        ratio = big.peak_rss_mb / small.peak_rss_mb
        verdict = "flat" if ratio <= FLAT_RSS_LIMIT else "NOT flat"
        print(
            f"{backend}: peak RSS at {big.objects:,} ÷ {small.objects:,} objects = {ratio:.2f} "
            f"({verdict}, limit {FLAT_RSS_LIMIT}); time ratio {big.seconds / small.seconds:.1f} "
            f"for {big.objects / small.objects:.0f}x the objects"
        )


def _objects(r: DiscoveryResult) -> int:
    return r.objects


# -- main ---------------------------------------------------------------------------------


def run_backend(
    backend: str, args: argparse.Namespace, work: Path
) -> tuple[list[RunResult], list[DiscoveryResult]]:
    print(f"\n== {backend} ==", flush=True)
    tiny = [ensure_tiny_drop(n) for n in args.discover_counts]
    with contextlib.ExitStack() as stack:
        endpoint = stack.enter_context(moto_server(work / "moto.log")) if backend == "s3" else ""

        def place(drop: Drop, bucket: str) -> tuple[str, str] | None:
            if backend != "s3":
                return None
            seconds = upload_drop(endpoint, bucket, drop)
            print(f"  put {drop.files:,} objects into moto in {seconds:.0f} s", flush=True)
            return endpoint, bucket

        runs: list[RunResult] = []
        if args.files:
            big, small = ensure_csv_drop(args.files), ensure_csv_drop(args.baseline_files)
            s3_small = place(small, "csv-small")
            if not args.skip_naive:
                runs.append(run_contender(backend, "naive", small, args, s3_small))
            runs.append(run_contender(backend, "lakeport", small, args, s3_small))
            if args.profile:
                profile_run(backend, small, args, work, s3_small)
            s3_big = place(big, "csv-big") if big.files != small.files else s3_small
            if big.files != small.files:
                runs.append(run_contender(backend, "lakeport", big, args, s3_big))
        found = [run_discovery(backend, d, place(d, f"tiny-{d.files}")) for d in tiny]
    return runs, found


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000, help="CSV files for lakeport")
    parser.add_argument(
        "--baseline-files", type=int, default=1000, help="CSV files for the naive baseline"
    )
    parser.add_argument("--discover", default="10000,100000", help="object counts for discovery")
    parser.add_argument(
        "--s3-discover", default=None, help="object counts for discovery on S3 (default: same)"
    )
    parser.add_argument("--backends", default="local,s3")
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="jobs per worker process")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per run at most")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="one more lakeport run per backend (--baseline-files) with the workers under cProfile",
    )
    parser.add_argument(
        "--skip-naive", action="store_true", help="leave out the naive baseline (for profiling)"
    )
    args = parser.parse_args()
    args.discover_counts = [int(n) for n in args.discover.split(",") if n.strip()]
    return args


def main() -> None:
    args = parse_args()
    print(machine_summary())
    print(f"lakeport: {common.lakeport_source()}")
    print(f"{load_text()} at start")
    print(f"{args.workers} worker processes x concurrency {args.concurrency}")
    work = scratch_dir("sources-run-")
    runs: list[RunResult] = []
    found: list[DiscoveryResult] = []
    try:
        for backend in [b for b in args.backends.split(",") if b.strip()]:
            backend_args = argparse.Namespace(**vars(args))
            if backend == "s3" and args.s3_discover:
                backend_args.discover_counts = [int(n) for n in args.s3_discover.split(",")]
            more_runs, more_found = run_backend(backend, backend_args, work)
            runs += more_runs
            found += more_found
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{load_text()} at end")
    report_runs(runs)
    report_discovery(found)


def profile_run(
    backend: str, drop: Drop, args: argparse.Namespace, work: Path, s3: tuple[str, str] | None
) -> None:
    """One more lakeport run on the baseline set with both workers under cProfile."""
    import pstats

    print(f"\n== profile ({backend}) ==", flush=True)
    prof_dir = work / f"profile-{backend}"
    prof_dir.mkdir()
    run_contender(backend, "lakeport", drop, args, s3, prof_dir)
    dumps = sorted(prof_dir.glob("*.prof"))
    if not dumps:
        print("no profile written")
        return
    merged = pstats.Stats(str(dumps[0]))
    for dump in dumps[1:]:
        merged.add(str(dump))
    kept = OUT_DIR / f"sources-workers-{backend}.prof"
    merged.dump_stats(str(kept))
    print_profile(kept, limit=25)
    print(f"\n(both workers' merged cProfile kept in {kept})")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "--worker":
        worker_main(sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else "")
    elif not child_main({"discover": discover_child}):
        main()
