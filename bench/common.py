"""Shared helpers for the benchmarks in this directory (``convert.py``, ``register_parquet.py``).

Every contender runs in its own child interpreter, so one contender's memory never counts
against another's. The child reports the seconds of the measured part alone (interpreter
start-up and imports excluded) and its peak RSS (see :func:`peak_rss_kib` for why the
child reads its own ``VmHWM`` instead of the parent reading ``wait4``'s ``ru_maxrss``).

lakeport is measured end to end through its real pipeline runner. The parent builds a
:class:`~lakeport.runtime.Runtime` on a scratch PostgreSQL database, creates a collection
and a presigned upload session through the API in-process, hard-links the file into the
local landing zone (what the client's PUT would have produced, without copying gigabytes
through an HTTP test client) and confirms the session through the API. The child then
runs ``lakeport.pipeline.runner.run_upload`` only: combine, infer (inspect), convert and
register (the Iceberg commit), exactly what a worker does for a queued upload.

Run as ``python bench/common.py --child lakeport '<json spec>'`` (the parent does that).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "out"
LOCAL_PG = "postgresql://postgres@127.0.0.1:5432/test"
CHILD_FLAG = "--child"
RESULT_PREFIX = "BENCH-RESULT "
MB = 1_000_000

ChildTask = Callable[[dict[str, Any]], dict[str, Any]]


class BenchError(RuntimeError):
    """A contender failed; the benchmark reports it and carries on."""


# -- the machine ------------------------------------------------------------------------


def machine_summary() -> str:
    """One line naming the machine and the versions that matter for the figures."""
    import duckdb
    import pyarrow

    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    cpu = _cpu_model()
    parts = [
        f"{os.cpu_count()} cores ({cpu})" if cpu else f"{os.cpu_count()} cores",
        f"{mem_gb:.0f} GiB RAM",
        f"{platform.system()} {platform.release()}",
        f"Python {platform.python_version()}",
        f"pyarrow {pyarrow.__version__}",
        f"duckdb {duckdb.__version__}",
    ]
    with contextlib.suppress(ImportError):
        import polars

        parts.append(f"polars {polars.__version__}")
    return ", ".join(parts)


def lakeport_source() -> str:
    """Which lakeport is measured: the imported package's directory, and its git commit
    (with ``+dirty`` when the working tree's ``src/`` differs from it)."""
    import lakeport

    where = Path(lakeport.__file__).resolve().parent
    try:
        commit = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(where), "status", "--porcelain", "--", "."],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{where} (not a git checkout)"
    return f"{where} (git {commit}{'+dirty' if dirty else ''})"


def load_text() -> str:
    """The load averages: other work on the machine skews every figure; say how much."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min)"


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def human_bytes(n: float) -> str:
    """``n`` bytes in decimal units (MB = 10^6 bytes, as in MB/s)."""
    if n >= 1e9:
        return f"{n / 1e9:.2f} GB"
    return f"{n / 1e6:.1f} MB"


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """A plain, aligned text table (first column left-aligned, the rest right-aligned)."""
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        out = [str(cells[0]).ljust(widths[0])]
        out += [str(c).rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(out)

    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def parse_sizes(text: str) -> list[float]:
    """``"0.25,2.5"`` -> ``[0.25, 2.5]`` (GB)."""
    sizes = [float(s) for s in text.split(",") if s.strip()]
    if not sizes or any(s <= 0 for s in sizes):
        raise SystemExit(f"--sizes wants positive numbers of GB, got {text!r}")
    return sizes


def size_tag(size_gb: float) -> str:
    """A file-name-safe label for a size: ``0.25`` -> ``0.25GB``."""
    return f"{size_gb:g}GB"


# -- child processes --------------------------------------------------------------------


@dataclass(frozen=True)
class ChildRun:
    """What a child reported: its result and its peak RSS."""

    result: dict[str, Any]
    peak_rss_mb: float


def run_child(
    script: Path, task: str, spec: dict[str, Any], env: Mapping[str, str] | None = None
) -> ChildRun:
    """Run ``task`` of ``script`` in a fresh interpreter (``env`` added to this process's
    environment) and collect what it reports."""
    argv = [sys.executable, str(script), CHILD_FLAG, task, json.dumps(spec)]
    done = subprocess.run(argv, capture_output=True, check=False, env={**os.environ, **(env or {})})
    stdout = done.stdout.decode(errors="replace")
    stderr = done.stderr.decode(errors="replace")
    if done.returncode != 0:
        raise BenchError(f"{task} exited {done.returncode}: {stderr.strip()[-800:]}")
    lines = [ln for ln in stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
    if not lines:
        raise BenchError(f"{task} printed no result: {stderr.strip()[-800:]}")
    result = json.loads(lines[-1][len(RESULT_PREFIX) :])
    return ChildRun(result, result.pop("peak_rss_kib") * 1024 / MB)


def peak_rss_kib() -> int:
    """This process's peak RSS, and its waited-for children's, in KiB.

    Not the parent's ``wait4``/``RUSAGE_CHILDREN`` figure: Linux carries the high-water
    mark of the forking parent's memory across ``exec`` into the child's ``ru_maxrss``,
    so a child started by a 250 MB parent would never report less than 250 MB. ``VmHWM``
    belongs to the child's own address space (created at ``exec``); its own children
    (lakeport's Parquet footer probe) can only inherit a mark it already reached.
    """
    own = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            own = int(line.split()[1])
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children)


def child_main(tasks: Mapping[str, ChildTask]) -> bool:
    """If this interpreter was started by :func:`run_child`, run the task and return True."""
    if len(sys.argv) < 4 or sys.argv[1] != CHILD_FLAG:
        return False
    task, spec = sys.argv[2], json.loads(sys.argv[3])
    result = tasks[task](spec)
    result["peak_rss_kib"] = peak_rss_kib()
    print(RESULT_PREFIX + json.dumps(result), flush=True)
    return True


def timed(fn: Callable[[], Any]) -> float:
    """Seconds ``fn`` takes."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def measure(fn: Callable[[], Any], profile_to: str | None = None) -> dict[str, float]:
    """Wall seconds and CPU seconds (all threads, waited-for children) of ``fn``; with
    ``profile_to``, ``fn`` runs under cProfile and the stats are dumped there."""
    cpu = _cpu_seconds()
    started = time.perf_counter()
    if profile_to is None:
        fn()
    else:
        import cProfile

        profiler = cProfile.Profile()
        profiler.runcall(fn)
        profiler.dump_stats(profile_to)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "cpu_seconds": _cpu_seconds() - cpu}


def print_profile(path: Path, limit: int = 18) -> None:
    """The hottest functions of a cProfile dump, by own time and by cumulative time."""
    import io
    import pstats

    for order in ("tottime", "cumulative"):
        buffer = io.StringIO()
        stats = pstats.Stats(str(path), stream=buffer)
        stats.strip_dirs().sort_stats(order).print_stats(limit)
        text = buffer.getvalue()
        start = text.find("   ncalls")
        print(f"\n-- cProfile, top {limit} by {order} --")
        print(text[start:].rstrip() if start >= 0 else text.rstrip())


# -- lakeport through its pipeline -------------------------------------------------------


@dataclass
class LakeportRun:
    """One upload driven through lakeport's pipeline in a child process."""

    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    status: str | None
    rows_loaded: int | None
    table_rows: int | None
    data_files: list[Path] = field(default_factory=list)
    steps: dict[str, float] = field(default_factory=dict)
    failure: dict[str, Any] | None = None

    def steps_text(self) -> str:
        """``infer 12.3s, convert 45.6s, ...`` (combine is a stat; shown when it is not ~0)."""
        parts = [f"{name} {secs:.2f}s" for name, secs in self.steps.items()]
        return ", ".join(parts)


def lakeport_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Child side: run one queued upload through the pipeline, as a worker would."""
    import sqlalchemy

    from lakeport.config import Settings
    from lakeport.jobs.worker import preload
    from lakeport.pipeline.runner import run_upload
    from lakeport.runtime import Runtime

    settings = Settings(data_dir=Path(spec["data_dir"]), database_url=spec["database_url"])
    rt = Runtime.build(settings, migrate=False)
    # what a worker does once at start-up, not per file: its catalog, its database
    # connections and its imports (lakeport.jobs.worker.run_workers)
    _ = rt.catalog
    with rt.sessions() as session:
        session.execute(sqlalchemy.text("SELECT 1"))
    preload()
    outcome: dict[str, Any] = {}

    def pipeline() -> None:
        outcome["status"] = run_upload(rt, spec["upload_id"])

    figures = measure(pipeline, spec.get("profile_to"))
    rt.close()
    return {**figures, "status": outcome.get("status")}


class LakeportHarness:
    """A throwaway lakeport (scratch database, data dir, collection) to upload files into.

    Use as a context manager; everything it made is removed on exit.
    """

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data_dir = workdir / "lakeport-data"
        self._stack = contextlib.ExitStack()
        self.database_url = ""
        self.server_kind = ""
        self.rt: Any = None
        self.api: Any = None
        self.collection_id = ""

    def __enter__(self) -> LakeportHarness:
        try:
            self._start()
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        from fastapi.testclient import TestClient

        from lakeport.accounts import bootstrap
        from lakeport.api.app import create_app
        from lakeport.config import Settings, UploadSettings
        from lakeport.runtime import Runtime

        self.workdir.mkdir(parents=True, exist_ok=True)
        self._stack.callback(shutil.rmtree, self.workdir, ignore_errors=True)
        server = self._stack.enter_context(_pg_server(self.workdir))
        self.server_kind = "embedded" if "127.0.0.1:5432" not in server else "127.0.0.1:5432"
        self.database_url = self._stack.enter_context(_scratch_database(server))
        settings = Settings(
            data_dir=self.data_dir,
            database_url=self.database_url,
            uploads=UploadSettings(max_presigned_bytes=1 << 50),
        )
        self.rt = Runtime.build(settings)
        self._stack.callback(self.rt.close)
        token = bootstrap(self.rt).token
        self.api = TestClient(create_app(self.rt))
        self.api.headers["Authorization"] = f"Bearer {token}"
        reply = self.api.post("/v1/collections", json={"name": "bench"})
        _expect(reply, 201)
        self.collection_id = reply.json()["id"]

    def stage(self, path: Path, dataset_name: str) -> str:
        """An upload of ``path``, confirmed and queued: a presigned session whose PUT is a
        hard link of the file into the landing zone (a copy if linking is impossible)."""
        from lakeport.db.models import Upload

        body = {
            "filename": path.name,
            "size_bytes": path.stat().st_size,
            "dataset_name": dataset_name,
        }
        try:
            url = f"/v1/collections/{self.collection_id}/uploads/presigned"
            reply = self.api.post(url, json=body)
            _expect(reply, 201)
            upload_id: str = reply.json()["upload_id"]
            with self.rt.sessions() as session:
                upload = session.get(Upload, upload_id)
                assert upload is not None
                key = upload.object_key
            target = Path(self.rt.store.path_for(key))
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                os.link(path, target)
            except OSError:
                shutil.copyfile(path, target)
            _expect(self.api.post(f"/v1/uploads/{upload_id}/confirm"), 202)
        except BenchError:
            raise
        except Exception as exc:  # the API in-process: any failure is lakeport's, report it
            raise BenchError(f"staging the upload failed: {type(exc).__name__}: {exc}") from exc
        return upload_id

    def run(self, upload_id: str, profile_to: Path | None = None) -> LakeportRun:
        """Run the pipeline for ``upload_id`` in a child; read the outcome from the database."""
        spec = {
            "data_dir": str(self.data_dir),
            "database_url": self.database_url,
            "upload_id": upload_id,
            "profile_to": str(profile_to) if profile_to else None,
        }
        from lakeport.memory import allocator_environment

        # the environment `lakeport worker` runs with (its allocator choice)
        child = run_child(Path(__file__), "lakeport", spec, allocator_environment())
        return self._outcome(upload_id, child)

    def _outcome(self, upload_id: str, child: ChildRun) -> LakeportRun:
        from lakeport.db.models import Dataset, Upload
        from lakeport.tables.commit import table_stats

        with self.rt.sessions() as session:
            upload = session.get(Upload, upload_id)
            assert upload is not None
            dataset = session.get(Dataset, upload.dataset_id) if upload.dataset_id else None
            run = LakeportRun(
                seconds=float(child.result["seconds"]),
                cpu_seconds=float(child.result["cpu_seconds"]),
                peak_rss_mb=child.peak_rss_mb,
                status=upload.completion_status,
                rows_loaded=upload.rows_loaded,
                table_rows=None,
                data_files=[_local(f["path"]) for f in upload.plan.get("staged", [])],
                steps=step_seconds(upload.completion_steps_log),
                failure=upload.failure_reason,
            )
            if dataset is not None:
                table = self.rt.catalog.load_table((*dataset.namespace, dataset.table_name))
                run.table_rows = table_stats(table)[0]
        return run


def step_seconds(log: list[dict[str, Any]]) -> dict[str, float]:
    """Seconds per pipeline step, from the upload's step log (start/end events)."""
    started: dict[str, datetime] = {}
    out: dict[str, float] = {}
    for event in log:
        at = datetime.fromisoformat(event["at"])
        if event["phase"] == "start":
            started[event["step"]] = at
        elif event["step"] in started:
            out[event["step"]] = (at - started.pop(event["step"])).total_seconds()
    return out


def _local(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def _expect(reply: Any, status: int) -> None:
    if reply.status_code != status:
        raise BenchError(f"{reply.request.method} {reply.request.url}: {reply.text}")


@contextlib.contextmanager
def _pg_server(workdir: Path) -> Iterator[str]:
    """The PostgreSQL at 127.0.0.1:5432 when it answers, else the embedded one."""
    import psycopg

    try:
        with psycopg.connect(LOCAL_PG, connect_timeout=2):
            pass
        yield LOCAL_PG
        return
    except psycopg.OperationalError:
        pass
    from lakeport.db.embedded import embedded_database_url, stop_embedded

    pg_dir = workdir / "embedded-pg"
    try:
        yield embedded_database_url(pg_dir)
    finally:
        stop_embedded(pg_dir)


@contextlib.contextmanager
def _scratch_database(server_url: str) -> Iterator[str]:
    """A fresh database on ``server_url``, dropped afterwards (as tests/dbserver.py does)."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"lp_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def scratch_dir(prefix: str) -> Path:
    """A new directory under ``bench/out`` (same file system as the cached inputs, so
    hard links work); the caller removes it."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=OUT_DIR))


if __name__ == "__main__":
    child_main({"lakeport": lakeport_child})
