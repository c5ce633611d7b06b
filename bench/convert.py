"""CSV -> Parquet/Iceberg: lakeport's pipeline against DuckDB, Polars and PyArrow.

Generates CSV files of the requested sizes (cached under ``bench/out/``) with ints,
floats (some empty), dates, millisecond timestamps, short strings and long strings, many
quoted because they hold commas, some with embedded double quotes and some with newlines.
Then, on this machine in this run, each contender turns the file into zstd Parquet in its
own child process:

* lakeport: the real pipeline for a confirmed upload (combine, infer = detect + full-file
  type inference, convert = stream to zstd Parquet in the table's data dir, register =
  one Iceberg commit), driven by ``lakeport.pipeline.runner.run_upload``;
* DuckDB: ``COPY (SELECT * FROM read_csv(...)) TO ... (FORMAT parquet, COMPRESSION zstd)``;
* Polars: ``scan_csv(..., try_parse_dates=True).sink_parquet(..., compression="zstd")``
  (``try_parse_dates`` so Polars types dates and timestamps as the others do);
* PyArrow: ``pyarrow.csv.open_csv`` (``newlines_in_values=True``, which the data needs)
  streamed into a ``ParquetWriter`` with zstd.

Every output is checked against what was generated: row count, the sum of an integer
column and the number of values holding a newline (a wrong fast answer is not a win).

Usage::

    .venv/bin/python bench/convert.py                      # --sizes 0.25,2.5
    .venv/bin/python bench/convert.py --sizes 0.05 --profile
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import common
from common import (
    MB,
    OUT_DIR,
    BenchError,
    LakeportHarness,
    measure,
    print_table,
    run_child,
    timed,
)

GENERATOR_VERSION = "v1"
CONTENDERS = ("lakeport", "duckdb", "polars", "pyarrow")
PEERS = CONTENDERS[1:]
RSS_LIMIT_MB = 600.0
RSS_GROWTH_LIMIT = 1.25
SAMPLE_ROWS = 100_000

LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
    "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure "
    "dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. "
    "Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt "
    "mollit anim id est laborum. "
)

#: Deterministic rows from a hash of the row number; $n rows, $lorem the long-text source.
ROWS_SQL = """
SELECT
  i AS id,
  (hash(i, 1) % 2000001)::BIGINT - 1000000 AS qty,
  round((hash(i, 2) % 1000000)::DOUBLE / 100.0, 2) AS price,
  CASE WHEN hash(i, 3) % 20 = 0 THEN NULL
       ELSE (hash(i, 3) % 1000000000)::DOUBLE / 1000000.0 - 500.0 END AS ratio,
  DATE '2000-01-01' + (hash(i, 4) % 9000)::INTEGER AS event_date,
  TIMESTAMP '2015-01-01 00:00:00' + to_microseconds(
      ((hash(i, 5) % 315360000) * 1000000 + (hash(i, 6) % 1000) * 1000)::BIGINT) AS event_ts,
  'SKU-' || lpad((hash(i, 7) % 100000)::VARCHAR, 5, '0') AS code,
  ['DE', 'FR', 'US', 'JP', 'BR', 'IN', 'NL', 'ZA'][1 + (hash(i, 8) % 8)::INTEGER] AS country,
  CASE
    WHEN i % 25 = 0 THEN substr($lorem, 1 + (hash(i, 9) % 200)::INTEGER, 40) || chr(10)
                         || substr($lorem, 1 + (hash(i, 10) % 200)::INTEGER, 80)
    WHEN i % 40 = 1 THEN 'she said "' || substr($lorem, 1 + (hash(i, 9) % 200)::INTEGER, 50)
                         || '", then left'
    ELSE substr($lorem, 1 + (hash(i, 9) % 300)::INTEGER, 40 + (hash(i, 10) % 200)::INTEGER)
  END AS comment
FROM range($n) t(i)
"""

#: What every output must agree on with the generated rows.
CHECK_SQL = "SELECT count(*), sum(qty), count_if(contains(comment, chr(10))) FROM {source}"


@dataclass(frozen=True)
class CsvInput:
    """A generated CSV file and the facts every correct output must reproduce."""

    path: Path
    size_bytes: int
    rows: int
    qty_sum: int
    newline_values: int

    def facts(self) -> tuple[int, int, int]:
        return (self.rows, self.qty_sum, self.newline_values)


@dataclass
class Result:
    """One contender on one file."""

    name: str
    seconds: float | None = None
    cpu_seconds: float | None = None
    peak_rss_mb: float | None = None
    verified: str = ""
    types: str = ""
    error: str | None = None
    steps: dict[str, float] = field(default_factory=dict)

    def steps_text(self) -> str:
        return ", ".join(f"{name} {secs:.2f}s" for name, secs in self.steps.items())

    def cores_busy(self) -> float | None:
        """CPU seconds per wall second: how much of the 2 cores the contender used."""
        if self.seconds is None or self.cpu_seconds is None or self.error:
            return None
        return self.cpu_seconds / self.seconds

    def mb_per_s(self, size_bytes: int) -> float | None:
        if self.seconds is None or self.error:
            return None
        return size_bytes / MB / self.seconds


# -- input files ------------------------------------------------------------------------


def ensure_csv(size_gb: float, regenerate: bool) -> CsvInput:
    """The cached CSV of ``size_gb`` GB, generated (with DuckDB) when missing."""
    path = OUT_DIR / f"convert-{common.size_tag(size_gb)}-{GENERATOR_VERSION}.csv"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists() and not regenerate:
        facts = json.loads(meta.read_text())
        return CsvInput(path, path.stat().st_size, **facts)
    import duckdb

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    sample = OUT_DIR / f".sample-{os.getpid()}.csv"
    copy = f"COPY ({ROWS_SQL}) TO '{{dst}}' (HEADER)"
    con.execute(copy.format(dst=sample), {"lorem": LOREM, "n": SAMPLE_ROWS})
    per_row = sample.stat().st_size / SAMPLE_ROWS
    sample.unlink()
    rows = max(1, round(size_gb * 1e9 / per_row))
    print(f"generating {path.name}: {rows:,} rows ...", flush=True)
    partial = path.with_suffix(".partial")
    seconds = timed(lambda: con.execute(copy.format(dst=partial), {"lorem": LOREM, "n": rows}))
    found = con.execute(
        CHECK_SQL.format(source=f"({ROWS_SQL})"), {"lorem": LOREM, "n": rows}
    ).fetchone()
    assert found is not None
    facts = {"rows": int(found[0]), "qty_sum": int(found[1]), "newline_values": int(found[2])}
    partial.replace(path)
    meta.write_text(json.dumps(facts))
    print(f"  {common.human_bytes(path.stat().st_size)} in {seconds:.1f}s", flush=True)
    return CsvInput(path, path.stat().st_size, **facts)


def warm_page_cache(path: Path) -> None:
    """Read the file once so the first contender does not pay for a cold cache alone."""
    with path.open("rb") as handle:
        while handle.read(16 << 20):
            pass


# -- the peers (child side) -------------------------------------------------------------


def duckdb_child(spec: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    con = duckdb.connect()
    sql = (
        f"COPY (SELECT * FROM read_csv('{spec['src']}')) "
        f"TO '{spec['dst']}' (FORMAT parquet, COMPRESSION zstd)"
    )
    return measure(lambda: con.execute(sql))


def polars_child(spec: dict[str, Any]) -> dict[str, Any]:
    import polars as pl

    def run() -> None:
        frame = pl.scan_csv(spec["src"], try_parse_dates=True)
        frame.sink_parquet(spec["dst"], compression="zstd")

    return measure(run)


def pyarrow_child(spec: dict[str, Any]) -> dict[str, Any]:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    def run() -> None:
        parse = pacsv.ParseOptions(newlines_in_values=True)
        reader = pacsv.open_csv(spec["src"], parse_options=parse)
        with pq.ParquetWriter(spec["dst"], reader.schema, compression="zstd") as writer:
            for batch in reader:
                writer.write_batch(batch)

    return measure(run)


CHILD_TASKS = {"duckdb": duckdb_child, "polars": polars_child, "pyarrow": pyarrow_child}


# -- running and checking ---------------------------------------------------------------


def verify(files: list[Path], expected: CsvInput) -> tuple[str, str]:
    """("ok" or what differs, the column types) of Parquet ``files`` against the input."""
    import duckdb
    import pyarrow.parquet as pq

    if not files:
        return "no output files", ""
    con = duckdb.connect()
    listed = ", ".join(f"'{f}'" for f in files)
    got = con.execute(CHECK_SQL.format(source=f"read_parquet([{listed}])")).fetchone()
    assert got is not None
    facts = (int(got[0]), int(got[1] or 0), int(got[2]))
    schema = pq.read_schema(files[0])
    types = ",".join(str(t).replace("large_string", "string") for t in schema.types)
    if facts == expected.facts():
        return "ok", types
    return f"MISMATCH rows/qty_sum/newlines {facts} != {expected.facts()}", types


def run_peer(name: str, csv: CsvInput, workdir: Path) -> Result:
    dst = workdir / f"{name}.parquet"
    result = Result(name)
    try:
        child = run_child(Path(__file__), name, {"src": str(csv.path), "dst": str(dst)})
        result.seconds, result.peak_rss_mb = child.result["seconds"], child.peak_rss_mb
        result.cpu_seconds = child.result["cpu_seconds"]
        result.verified, result.types = verify([dst], csv)
    except BenchError as exc:
        result.error = str(exc)
    finally:
        dst.unlink(missing_ok=True)
    return result


def run_lakeport(lp: LakeportHarness, csv: CsvInput, profile_to: Path | None = None) -> Result:
    result = Result("lakeport")
    try:
        upload_id = lp.stage(csv.path, f"convert_{os.urandom(4).hex()}")
        run = lp.run(upload_id, profile_to)
    except BenchError as exc:
        result.error = str(exc)
        return result
    result.seconds, result.peak_rss_mb = run.seconds, run.peak_rss_mb
    result.cpu_seconds, result.steps = run.cpu_seconds, run.steps
    if run.status != "registered":
        result.error = f"ended {run.status}: {run.failure}"
        return result
    result.verified, result.types = verify(run.data_files, csv)
    if run.table_rows != csv.rows:
        result.verified += f"; Iceberg snapshot says {run.table_rows} rows"
    return result


def bench_size(
    size_gb: float, contenders: list[str], lp: LakeportHarness, args: argparse.Namespace
) -> tuple[CsvInput, dict[str, Result]]:
    """Every contender on one file, ``--repeat`` rounds; each keeps its fastest round."""
    csv = ensure_csv(size_gb, args.regenerate)
    warm_page_cache(csv.path)
    print(
        f"\n== {csv.path.name}: {common.human_bytes(csv.size_bytes)}, {csv.rows:,} rows ==",
        flush=True,
    )
    print(f"  {common.load_text()}")
    workdir = common.scratch_dir("convert-peers-")
    results: dict[str, Result] = {}
    try:
        for round_no in range(1, args.repeat + 1):
            for name in contenders:
                print(f"  round {round_no}: {name} ...", end=" ", flush=True)
                if name == "lakeport":
                    result = run_lakeport(lp, csv)
                else:
                    result = run_peer(name, csv, workdir)
                print("failed" if result.error else f"{_fmt(result.seconds, '.2f')}s", flush=True)
                results[name] = _better(results.get(name), result)
    finally:
        for leftover in workdir.iterdir():
            leftover.unlink()
        workdir.rmdir()
    report_size(csv, results)
    return csv, results


def _better(kept: Result | None, new: Result) -> Result:
    """The faster of two rounds; a failed round always wins (failures are never hidden).
    The peak RSS kept is the highest of all rounds."""
    if kept is None or new.error:
        return new
    if kept.error:
        return kept
    best = new if (new.seconds or 0) < (kept.seconds or 0) else kept
    best.peak_rss_mb = max(kept.peak_rss_mb or 0, new.peak_rss_mb or 0)
    return best


# -- reporting --------------------------------------------------------------------------


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report_size(csv: CsvInput, results: dict[str, Result]) -> None:
    lp = results.get("lakeport")
    lp_speed = lp.mb_per_s(csv.size_bytes) if lp else None
    rows = []
    for r in results.values():
        speed = r.mb_per_s(csv.size_bytes)
        vs = lp_speed / speed if lp_speed and speed and r.name != "lakeport" else None
        rows.append(
            [
                r.name,
                _fmt(speed, ".1f"),
                _fmt(r.seconds, ".2f"),
                _fmt(r.cores_busy(), ".2f"),
                _fmt(r.peak_rss_mb, ".0f"),
                "FAILED" if r.error else r.verified,
                _fmt(vs, ".2f"),
            ]
        )
    print()
    headers = [
        "contender",
        "MB/s",
        "seconds",
        "cores busy",
        "peak RSS MB",
        "output check",
        "lakeport/peer",
    ]
    print_table(headers, rows)
    for r in results.values():
        if r.error:
            print(f"  {r.name} failed: {r.error}")
    print("  cores busy = CPU seconds / wall seconds of the contender's process (2 cores here)")
    if lp and lp.steps:
        print(f"  lakeport steps: {lp.steps_text()}")
        if lp.steps.get("convert"):
            alone = csv.size_bytes / MB / lp.steps["convert"]
            print(f"  lakeport convert step alone (second pass, no inference): {alone:.1f} MB/s")
    types = {r.types for r in results.values() if r.types}
    if len(types) == 1:
        print(f"  column types (all contenders): {types.pop()}")
    else:
        for r in results.values():
            print(f"  column types ({r.name}): {r.types}")
    fastest = _fastest_peer(csv, results)
    if lp_speed and fastest:
        ratio = lp_speed / fastest[1]
        print(
            f"  lakeport MB/s / fastest peer ({fastest[0]}) MB/s = {ratio:.2f} "
            f"(goal >= 1.0: {'met' if ratio >= 1.0 else 'NOT met'})"
        )


def _fastest_peer(csv: CsvInput, results: dict[str, Result]) -> tuple[str, float] | None:
    speeds = [
        (r.name, s)
        for r in results.values()
        if r.name != "lakeport" and r.verified == "ok" and (s := r.mb_per_s(csv.size_bytes))
    ]
    return max(speeds, key=lambda p: p[1]) if speeds else None


def report_goals(runs: list[tuple[CsvInput, dict[str, Result]]]) -> None:
    """The issue's goals, each marked met or not, from the measured figures."""
    print("\n== goals ==")
    lp_runs = [(csv, res["lakeport"]) for csv, res in runs if "lakeport" in res]
    for csv, res in runs:
        lp = res.get("lakeport")
        if lp is None:
            continue
        fastest = _fastest_peer(csv, res)
        speed = lp.mb_per_s(csv.size_bytes)
        label = common.human_bytes(csv.size_bytes)
        if speed and fastest:
            ratio = speed / fastest[1]
            print(
                f"  {label}: throughput ratio {ratio:.2f} vs {fastest[0]} "
                f"(>= 1.0: {'met' if ratio >= 1.0 else 'NOT met'})"
            )
        if lp.peak_rss_mb is not None:
            ok = lp.peak_rss_mb <= RSS_LIMIT_MB
            print(
                f"  {label}: lakeport peak RSS {lp.peak_rss_mb:.0f} MB "
                f"(<= {RSS_LIMIT_MB:.0f} MB: {'met' if ok else 'NOT met'})"
            )
    measured = [(c, lp) for c, lp in lp_runs if lp.peak_rss_mb is not None and not lp.error]
    if len(measured) >= 2:
        (small, lo), (big, hi) = measured[0], measured[-1]
        assert lo.peak_rss_mb is not None and hi.peak_rss_mb is not None
        growth = hi.peak_rss_mb / lo.peak_rss_mb
        print(
            f"  lakeport RSS {common.human_bytes(big.size_bytes)} / "
            f"{common.human_bytes(small.size_bytes)} = {growth:.2f} "
            f"(<= {RSS_GROWTH_LIMIT}: {'met' if growth <= RSS_GROWTH_LIMIT else 'NOT met'})"
        )


def profile_lakeport(lp: LakeportHarness, csv: CsvInput) -> None:
    """One more lakeport run under cProfile (slower than the timed runs), hot spots printed
    and the dump kept in ``bench/out/convert-lakeport.prof`` for ``pstats``."""
    dump = OUT_DIR / "convert-lakeport.prof"
    print(f"\n== cProfile of lakeport's pipeline on {csv.path.name} ==", flush=True)
    result = run_lakeport(lp, csv, profile_to=dump)
    print(f"  (profiled run: {_fmt(result.seconds, '.2f')}s; steps: {result.steps_text()})")
    if dump.exists():
        common.print_profile(dump)
        print(f"  (dump kept in {dump})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="0.25,2.5", help="CSV sizes in GB (default 0.25,2.5)")
    parser.add_argument(
        "--only", default=",".join(CONTENDERS), help="contenders to run (comma-separated)"
    )
    parser.add_argument("--regenerate", action="store_true", help="rebuild the cached CSVs")
    parser.add_argument(
        "--repeat", type=int, default=1, help="rounds per size; each contender keeps its best"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile lakeport on the smallest size"
    )
    args = parser.parse_args()
    contenders = [c for c in args.only.split(",") if c]
    unknown = set(contenders) - set(CONTENDERS)
    if unknown:
        raise SystemExit(f"unknown contenders: {sorted(unknown)}; choose from {CONTENDERS}")
    sizes = sorted(common.parse_sizes(args.sizes))
    print(f"machine: {common.machine_summary()}")
    print(f"lakeport: {common.lakeport_source()}")
    print(f"before: {common.load_text()}")
    print("MB = 10^6 bytes of CSV; seconds = the conversion alone, in its own process.")
    runs = []
    with LakeportHarness(common.scratch_dir("convert-lakeport-")) as lp:
        print(f"lakeport database: scratch database on {lp.server_kind} PostgreSQL")
        for size in sizes:
            runs.append(bench_size(size, contenders, lp, args))
        print(f"\nafter the timed runs: {common.load_text()}")
        report_goals(runs)
        if args.profile and "lakeport" in contenders:
            profile_lakeport(lp, runs[0][0])


if __name__ == "__main__" and not common.child_main(CHILD_TASKS):
    main()
