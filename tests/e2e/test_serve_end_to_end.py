"""``lakeport serve`` as a subprocess on the embedded default: a CSV and a Parquet file go
in over HTTP, and come back value by value from pyiceberg and from DuckDB."""

from __future__ import annotations

import datetime as dt
import io
import stat
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakeport.db.embedded import embedded_database_url, stop_embedded
from tests.processes import lakeport_env, poll_upload, serving
from tests.readback import iceberg_table, read_with_duckdb, read_with_pyiceberg

pytestmark = pytest.mark.e2e

CSV = (
    "id,name,amount,day,seen_at,active,zip\n"
    '1,"Smith, Jane",10.5,2024-01-02,2024-01-02T03:04:05,true,09001\n'
    '2,"multi\nline",-3.25,2024-02-29,2024-02-29T23:59:59,false,10001\n'
    "3,,0,2023-12-31,2023-12-31T00:00:00,true,00501\n"
)


def _parquet_bytes() -> tuple[bytes, pa.Table]:
    table = pa.table(
        {
            "k": pa.array([1, 2, 3], pa.int64()),
            "ratio": pa.array([0.5, None, 2.25], pa.float64()),
            "label": pa.array(["a", "b", None], pa.string()),
            "when": pa.array(
                [dt.datetime(2024, 5, 1, 12), None, dt.datetime(2020, 1, 1)], pa.timestamp("us")
            ),
        }
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue(), table


def _postgres_running(pgdata: Path) -> bool:
    import psutil

    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().split()[0])
    return psutil.pid_exists(pid)


def _upload(client: httpx.Client, coll: str, name: str, data: bytes) -> dict[str, object]:
    r = client.post(f"/v1/collections/{coll}/uploads", files={"file": (name, data)})
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/uploads/{r.json()['id']}"
    return poll_upload(client, r.json()["id"])


def test_csv_and_parquet_round_trip_through_iceberg(tmp_path: Path, request):
    request_cleanup = request.addfinalizer
    data_dir = tmp_path / "data"
    env = lakeport_env(data_dir, None)
    with serving(env) as base:
        token_file = data_dir / "admin-token"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        token = token_file.read_text().strip()
        client = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        request_cleanup(client.close)
        coll = client.post("/v1/collections", json={"name": "e2e"}).json()["id"]

        done = _upload(client, coll, "people.csv", CSV.encode())
        assert done["completion_status"] == "registered", done["failure_reason"]
        steps = [(e["step"], e["phase"]) for e in done["completion_steps_log"]]
        assert steps == [
            (s, p) for s in ("combine", "infer", "convert", "register") for p in ("start", "end")
        ]
        dataset = client.get(f"/v1/datasets/{done['dataset_id']}").json()
        assert dataset["row_count"] == 3
        types = {f["name"]: f["type"] for f in dataset["schema"]["fields"]}
        assert types["id"] == "long" and types["zip"] == "string"
        assert dataset["schema"]["fingerprint"].startswith("sha256:")

        pq_bytes, expected = _parquet_bytes()
        pq_done = _upload(client, coll, "metrics.parquet", pq_bytes)
        assert pq_done["completion_status"] == "registered", pq_done["failure_reason"]
        pq_ds = client.get(f"/v1/datasets/{pq_done['dataset_id']}").json()

        rows = client.get(f"/v1/datasets/{done['dataset_id']}/rows").json()
        assert sorted(r[rows["columns"].index("name")] or "" for r in rows["rows"]) == [
            "",
            "Smith, Jane",
            "multi\nline",
        ]

        bad = _upload(client, coll, "junk.csv", b"\x00\x01\x02binary\xff\xfe")
        assert bad["completion_status"] == "failed"
        assert bad["failure_reason"]["code"] in {
            "unsupported_format",
            "encoding_error",
            "parse_error",
        }
        # the worker survived the bad file
        again = _upload(client, coll, "people2.csv", CSV.encode())
        assert again["completion_status"] == "registered"

        url = embedded_database_url(data_dir)
        try:
            warehouse = (data_dir / "warehouse").as_uri()
            table = iceberg_table(
                url,
                warehouse,
                [
                    dataset["table"]["namespace"].split(".")[0],
                    *dataset["table"]["namespace"].split(".")[1:],
                    dataset["table"]["name"],
                ],
            )
            for arrow in (read_with_pyiceberg(table), read_with_duckdb(table.metadata_location)):
                got = sorted(arrow.to_pylist(), key=lambda r: r["id"])
                assert [r["id"] for r in got] == [1, 2, 3]
                assert got[0]["name"] == "Smith, Jane" and got[1]["name"] == "multi\nline"
                assert got[2]["name"] is None
                assert [r["amount"] for r in got] == [10.5, -3.25, 0.0]
                assert got[1]["day"] == dt.date(2024, 2, 29)
                assert got[0]["seen_at"] == dt.datetime(2024, 1, 2, 3, 4, 5)
                assert [r["active"] for r in got] == [True, False, True]
                assert [r["zip"] for r in got] == ["09001", "10001", "00501"]
            ns = pq_ds["table"]["namespace"].split(".")
            pq_table = iceberg_table(url, warehouse, [*ns, pq_ds["table"]["name"]])
            for arrow in (
                read_with_pyiceberg(pq_table),
                read_with_duckdb(pq_table.metadata_location),
            ):
                assert sorted(arrow.to_pylist(), key=lambda r: r["k"]) == expected.to_pylist()
        finally:
            stop_embedded(data_dir)

    # SIGTERM stopped the embedded PostgreSQL with it (checked: no postmaster left)
    assert not _postgres_running(data_dir / "pg")
    # restart on the same data directory: org, token, uploads and tables are all still there
    with serving(env) as base:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"})
        request_cleanup(client.close)
        assert client.get(f"/v1/uploads/{done['id']}").json()["completion_status"] == "registered"
        assert client.get(f"/v1/datasets/{done['dataset_id']}/rows").json()["rows"]
