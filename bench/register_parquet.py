"""Registering a Parquet file: does the time stay flat as the file grows?

A Parquet file already is what an Iceberg table stores, so registering one should cost a
footer read and a commit, whatever its size: a ~3 GB file about as long as a 30 MB one.
This script generates two Parquet files (cached under ``bench/out/``), runs each through
lakeport's real pipeline (``run_upload`` of a confirmed upload, in its own child process)
and prints both times and their ratio, with the per-step split, so a pipeline that reads
and rewrites the data shows up as exactly that.

For reference it also times the footer-only floor on the same files: pyiceberg's
``add_files`` into a fresh table of a throwaway SQLite catalog (no lakeport involved).

Usage::

    .venv/bin/python bench/register_parquet.py                 # --sizes 0.03,3
    .venv/bin/python bench/register_parquet.py --sizes 0.03,0.5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import common
from common import OUT_DIR, BenchError, LakeportHarness, LakeportRun, print_table, run_child

GENERATOR_VERSION = "v1"
ROWS_PER_GROUP = 250_000
SAMPLE_ROWS = 500_000
#: Deterministic, poorly compressible rows: ints, floats, timestamps, short strings.
COPY_SQL = f"""
COPY (
  SELECT
    i AS id,
    (hash(i, 1) % 1000000000)::BIGINT AS user_id,
    round((hash(i, 2) % 1000000)::DOUBLE / 100.0, 2) AS amount,
    (hash(i, 3) % 1000000007)::DOUBLE / 1000000007.0 AS score,
    TIMESTAMP '2015-01-01' + to_microseconds((hash(i, 4) % 315360000000000)::BIGINT) AS event_ts,
    substr(md5(i::VARCHAR), 1, 12) AS label,
    ['retail', 'wholesale', 'online', 'partner', 'internal'][1 + (hash(i, 5) % 5)::INTEGER]
      AS category
  FROM range($n) t(i)
) TO '{{dst}}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROWS_PER_GROUP})
"""
#: "About as long": the bench's reading of the goal, stated so the verdict is checkable.
FLAT_RATIO_LIMIT = 1.5


@dataclass(frozen=True)
class ParquetInput:
    path: Path
    size_bytes: int
    rows: int
    row_groups: int


@dataclass
class Outcome:
    """lakeport and the footer-only reference on one file."""

    file: ParquetInput
    lakeport: LakeportRun | None = None
    lakeport_error: str | None = None
    rows_check: str = ""
    add_files_seconds: float | None = None
    add_files_rss_mb: float | None = None
    add_files_error: str | None = None


# -- input files ------------------------------------------------------------------------


def ensure_parquet(size_gb: float, regenerate: bool) -> ParquetInput:
    """The cached Parquet file of about ``size_gb`` GB, generated with DuckDB when missing
    (hash-derived values, zstd, row groups of 250,000 rows)."""
    path = OUT_DIR / f"register-{common.size_tag(size_gb)}-{GENERATOR_VERSION}.parquet"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists() and not regenerate:
        facts = json.loads(meta.read_text())
        return ParquetInput(path, path.stat().st_size, **facts)
    import duckdb
    import pyarrow.parquet as pq

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    sample = OUT_DIR / f".sample-{os.getpid()}.parquet"
    con.execute(COPY_SQL.format(dst=sample), {"n": SAMPLE_ROWS})
    per_row = sample.stat().st_size / SAMPLE_ROWS
    sample.unlink()
    rows = max(1, round(size_gb * 1e9 / per_row))
    print(f"generating {path.name}: {rows:,} rows ...", flush=True)
    partial = path.with_suffix(".partial")
    con.execute(COPY_SQL.format(dst=partial), {"n": rows})
    footer = pq.ParquetFile(partial).metadata
    facts = {"rows": footer.num_rows, "row_groups": footer.num_row_groups}
    partial.replace(path)
    meta.write_text(json.dumps(facts))
    print(f"  {common.human_bytes(path.stat().st_size)}", flush=True)
    return ParquetInput(path, path.stat().st_size, **facts)


# -- the footer-only reference (child side) ---------------------------------------------


def add_files_child(spec: dict[str, Any]) -> dict[str, Any]:
    """pyiceberg alone: create a table from the file's schema and add the file to it."""
    import pyarrow.parquet as pq
    from pyiceberg.catalog.sql import SqlCatalog

    work = Path(spec["workdir"])
    catalog = SqlCatalog(
        "bench", uri=f"sqlite:///{work / 'catalog.db'}", warehouse=(work / "wh").as_uri()
    )
    catalog.create_namespace("bench")
    src = spec["src"]

    def register() -> None:
        table = catalog.create_table("bench.t", schema=pq.read_schema(src))
        table.add_files([src])

    return common.measure(register)


# -- running and reporting --------------------------------------------------------------


def run_lakeport(lp: LakeportHarness, file: ParquetInput, outcome: Outcome) -> None:
    """One lakeport round; the outcome keeps its fastest successful round (a failure
    is kept over any success, so it is never hidden)."""
    try:
        upload_id = lp.stage(file.path, f"register_{os.urandom(4).hex()}")
        run = lp.run(upload_id)
    except BenchError as exc:
        outcome.lakeport_error = str(exc)
        return
    if run.status != "registered":
        outcome.lakeport, outcome.lakeport_error = run, f"ended {run.status}: {run.failure}"
        return
    if outcome.lakeport_error or (outcome.lakeport and outcome.lakeport.seconds <= run.seconds):
        if outcome.lakeport:
            outcome.lakeport.peak_rss_mb = max(outcome.lakeport.peak_rss_mb, run.peak_rss_mb)
        return
    if outcome.lakeport:
        run.peak_rss_mb = max(outcome.lakeport.peak_rss_mb, run.peak_rss_mb)
    outcome.lakeport = run
    if run.table_rows == file.rows:
        outcome.rows_check = "ok"
    else:
        outcome.rows_check = f"MISMATCH: table has {run.table_rows}, file {file.rows}"


def run_add_files(file: ParquetInput, outcome: Outcome) -> None:
    """One round of the footer-only reference; the fastest round is kept."""
    workdir = common.scratch_dir("register-iceberg-")
    try:
        spec = {"src": str(file.path), "workdir": str(workdir)}
        child = run_child(Path(__file__), "add_files", spec)
        seconds = child.result["seconds"]
        if outcome.add_files_seconds is None or seconds < outcome.add_files_seconds:
            outcome.add_files_seconds = seconds
        outcome.add_files_rss_mb = max(outcome.add_files_rss_mb or 0.0, child.peak_rss_mb)
    except BenchError as exc:
        outcome.add_files_error = str(exc)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report(outcomes: list[Outcome]) -> None:
    rows = []
    for o in outcomes:
        lp = o.lakeport
        rows.append(
            [
                o.file.path.name,
                common.human_bytes(o.file.size_bytes),
                f"{o.file.rows:,}",
                _fmt(lp.seconds if lp and not o.lakeport_error else None, ".2f"),
                _fmt(lp.peak_rss_mb if lp else None, ".0f"),
                "FAILED" if o.lakeport_error else o.rows_check,
                _fmt(o.add_files_seconds, ".2f"),
                _fmt(o.add_files_rss_mb, ".0f"),
            ]
        )
    headers = [
        "file",
        "size",
        "rows",
        "lakeport s",
        "lakeport RSS MB",
        "rows check",
        "add_files s",
        "add_files RSS MB",
    ]
    print()
    print_table(headers, rows)
    for o in outcomes:
        label = common.human_bytes(o.file.size_bytes)
        if o.lakeport_error:
            print(f"  lakeport on {label} failed: {o.lakeport_error}")
        if o.add_files_error:
            print(f"  add_files on {label} failed: {o.add_files_error}")
        if o.lakeport and not o.lakeport_error:
            written = sum(f.stat().st_size for f in o.lakeport.data_files if f.exists())
            print(
                f"  lakeport on {label}: steps {o.lakeport.steps_text()}; the convert step "
                f"wrote {len(o.lakeport.data_files)} data file(s), {common.human_bytes(written)}"
            )
    _report_ratio(outcomes)


def _report_ratio(outcomes: list[Outcome]) -> None:
    done = [o for o in outcomes if o.lakeport and not o.lakeport_error]
    if len(done) < 2:
        return
    small, big = done[0], done[-1]
    assert small.lakeport is not None and big.lakeport is not None
    ratio = big.lakeport.seconds / small.lakeport.seconds
    sizes = (
        f"{common.human_bytes(big.file.size_bytes)} / {common.human_bytes(small.file.size_bytes)}"
    )
    verdict = "met" if ratio <= FLAT_RATIO_LIMIT else "NOT met"
    print(
        f"\n  lakeport time {sizes} = {ratio:.2f} "
        f"(goal: about as long, read as <= {FLAT_RATIO_LIMIT}: {verdict})"
    )
    growth = big.lakeport.peak_rss_mb / small.lakeport.peak_rss_mb
    print(
        f"  lakeport peak RSS {sizes} = {growth:.2f} "
        f"({small.lakeport.peak_rss_mb:.0f} MB -> {big.lakeport.peak_rss_mb:.0f} MB)"
    )
    if small.add_files_seconds and big.add_files_seconds:
        floor = big.add_files_seconds / small.add_files_seconds
        print(f"  footer-only reference (pyiceberg add_files) {sizes} = {floor:.2f}")
        print(
            f"  lakeport / add_files on the big file = "
            f"{big.lakeport.seconds / big.add_files_seconds:.1f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0.03,3", help="Parquet sizes in GB (default 0.03,3)")
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached files")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds per file; the fastest round is kept"
    )
    args = parser.parse_args()
    sizes = sorted(common.parse_sizes(args.sizes))
    print(f"machine: {common.machine_summary()}")
    print(f"lakeport: {common.lakeport_source()}")
    print(f"before: {common.load_text()}")
    print("seconds = the pipeline (or add_files) alone, each in its own process.")
    outcomes = []
    with LakeportHarness(common.scratch_dir("register-lakeport-")) as lp:
        print(f"lakeport database: scratch database on {lp.server_kind} PostgreSQL")
        for size in sizes:
            file = ensure_parquet(size, args.regenerate)
            outcome = Outcome(file)
            for round_no in range(1, args.repeat + 1):
                print(f"  round {round_no}: lakeport and add_files on {file.path.name} ...")
                run_lakeport(lp, file, outcome)
                run_add_files(file, outcome)
            outcomes.append(outcome)
        print(f"after: {common.load_text()}")
        report(outcomes)


if __name__ == "__main__" and not common.child_main({"add_files": add_files_child}):
    main()
