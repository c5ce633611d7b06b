"""SIGKILL a real worker at every step boundary and inside convert and register; a fresh
worker must finish the upload with each row in the table exactly once and no stray files.

The worker is a real ``lakeport`` worker process; ``tests.crashing_worker`` only wraps
the function at the chosen point to SIGKILL its own process there.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.processes import LAKEPORT, lakeport_env, stop
from tests.readback import iceberg_table, read_with_pyiceberg

pytestmark = pytest.mark.slow

POINTS = [
    "before:combine",
    "after:combine",
    "before:infer",
    "after:infer",
    "before:convert",
    "inside:convert",
    "after:convert",
    "before:register",
    "inside:register",
]
ROWS = 5000


def _csv() -> bytes:
    lines = ["id,label,value"] + [f"{i},row {i},{i * 0.5}" for i in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


def _wait_upload(api, upload_id: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(f"/v1/uploads/{upload_id}").json()
        if body["completion_status"] in ("registered", "failed"):
            return body
        time.sleep(0.2)
    raise TimeoutError(body)


@pytest.mark.parametrize("point", POINTS)
def test_worker_killed_mid_pipeline_recovers_exactly_once(point, api, settings, database_url):
    coll = api.post("/v1/collections", json={"name": "crash"}).json()["id"]
    r = api.post(f"/v1/collections/{coll}/uploads", files={"file": ("crash.csv", _csv())})
    upload_id = r.json()["id"]
    env = lakeport_env(
        settings.resolved_data_dir(), database_url, LAKEPORT_WORKER__STALLED_AFTER_SECONDS="2"
    )
    crash = subprocess.run(
        [sys.executable, "-m", "tests.crashing_worker", point],
        env=env,
        timeout=120,
        capture_output=True,
        cwd=Path(__file__).parents[2],
    )
    assert crash.returncode == -9, crash.stderr.decode()[-3000:]
    assert api.get(f"/v1/uploads/{upload_id}").json()["completion_status"] != "registered"

    worker = subprocess.Popen(
        [LAKEPORT, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        done = _wait_upload(api, upload_id)
    finally:
        assert stop(worker) == 0
    assert done["completion_status"] == "registered", done["failure_reason"]
    assert done["rows_loaded"] == ROWS

    dataset = api.get(f"/v1/datasets/{done['dataset_id']}").json()
    identifier = [*dataset["table"]["namespace"].split("."), dataset["table"]["name"]]
    table = iceberg_table(database_url, settings.warehouse(), identifier)
    rows = read_with_pyiceberg(table)
    assert rows.num_rows == ROWS
    assert sorted(rows.column("id").to_pylist()) == list(range(ROWS))
    marked = [
        s
        for s in table.snapshots()
        if s.summary.additional_properties.get("lakeport.upload-id") == upload_id
    ]
    assert len(marked) == 1
    referenced = {Path(t.file.file_path.removeprefix("file://")) for t in table.scan().plan_files()}
    on_disk = set(Path(table.location().removeprefix("file://"), "data").glob("*.parquet"))
    assert on_disk == referenced
