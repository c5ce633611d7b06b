"""Many real worker processes on one source: every file's rows exactly once, even when a
worker is SIGKILLed mid-run (its jobs are reclaimed after the stall timeout)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from lakeport.config import Settings
from tests.integration.conftest import drop_settings
from tests.integration.pipeline_helpers import collection
from tests.processes import LAKEPORT, lakeport_env, stop
from tests.readback import iceberg_table, read_with_pyiceberg

pytestmark = [pytest.mark.slow, pytest.mark.timeout(700)]

FILES = int(os.environ.get("LAKEPORT_TEST_SOURCE_FILES", "1000"))
ROWS_PER_FILE = 3


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    path = tmp_path / "drop"
    for n in range(FILES):
        sub = path / f"day={n % 10}"
        sub.mkdir(parents=True, exist_ok=True)
        base = n * ROWS_PER_FILE
        rows = "".join(f"{base + i},{n}\n" for i in range(ROWS_PER_FILE))
        (sub / f"f{n:05d}.csv").write_text("id,file\n" + rows)
    return path


@pytest.fixture
def settings(tmp_path, database_url, drop) -> Settings:
    return drop_settings(tmp_path, database_url, drop)


def _workers(env: dict[str, str], n: int) -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [LAKEPORT, "worker", "--concurrency", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(n)
    ]


def test_four_workers_one_killed_every_row_exactly_once(api, runtime, settings, database_url):
    coll = collection(api)
    source = api.post(
        f"/v1/collections/{coll}/sources",
        json={
            "name": "many",
            "connection": "drop",
            "pattern": "**/*.csv",
            "dataset_name": "many",
        },
    ).json()
    env = lakeport_env(
        settings.resolved_data_dir(),
        database_url,
        LAKEPORT_WORKER__STALLED_AFTER_SECONDS="3",
        LAKEPORT_CONNECTIONS=json.dumps(
            {"drop": {"backend": "local", "root": str(settings.connections["drop"].root)}}
        ),
    )
    run = api.post(f"/v1/sources/{source['id']}/runs").json()["run"]
    workers = _workers(env, 4)
    try:
        deadline = time.monotonic() + 480  # ~90 s normally; a stuck file must not eat CI
        killed = False
        while time.monotonic() < deadline:
            state = api.get(f"/v1/runs/{run['id']}").json()
            if not killed and state["counts"]["succeeded"] >= FILES // 4:
                workers[0].send_signal(signal.SIGKILL)  # dies holding jobs
                workers[0].wait()
                killed = True
            if state["status"] != "running":
                break
            time.sleep(1)
    finally:
        for proc in workers[1:]:
            assert stop(proc) == 0
    assert killed
    files = api.get(f"/v1/sources/{source['id']}/files", params={"limit": 5000}).json()["items"]
    stuck = [(f["path"], f["status"], f["error"]) for f in files if f["status"] != "succeeded"]
    assert state["status"] == "succeeded", (state, stuck[:10])
    assert state["counts"]["succeeded"] == FILES and state["rows_loaded"] == FILES * ROWS_PER_FILE

    dataset = api.get(f"/v1/collections/{coll}/datasets").json()["items"][0]
    table = iceberg_table(
        database_url,
        settings.warehouse(),
        [*dataset["table"]["namespace"].split("."), dataset["table"]["name"]],
    )
    ids = read_with_pyiceberg(table).column("id").to_pylist()
    assert len(ids) == FILES * ROWS_PER_FILE
    assert sorted(ids) == list(range(FILES * ROWS_PER_FILE))  # each row once: no dup, no gap
