"""Prefix sources on a local connection: discovery, exactly-once loads, changes, deletes,
failures, retries and run bookkeeping, through the real job queue and Iceberg tables."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from lakeport.config import Settings
from tests.integration.conftest import drop_settings
from tests.integration.pipeline_helpers import collection, drain_jobs, rows_of


@pytest.fixture
def settings(tmp_path, database_url, drop) -> Settings:
    return drop_settings(tmp_path, database_url, drop)


def _write(drop: Path, rel: str, rows: range, extra: str = "") -> None:
    path = drop / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("id,label\n" + "".join(f"{i},r{i}{extra}\n" for i in rows))
    mtime = time.time() + (1 if extra else 0)
    os.utime(path, (mtime, mtime))


def _snapshot_count(runtime, dataset: dict) -> int:
    table = runtime.catalog.load_table(
        (*dataset["table"]["namespace"].split("."), dataset["table"]["name"])
    )
    return len(table.snapshots())


def _source(api, coll: str, **extra) -> dict:
    body = {
        "name": "drops",
        "connection": "drop",
        "prefix": "in/",
        "pattern": "**/*.csv",
        "dataset_name": "events",
        **extra,
    }
    r = api.post(f"/v1/collections/{coll}/sources", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _run(api, runtime, source_id: str) -> dict:
    r = api.post(f"/v1/sources/{source_id}/runs")
    assert r.status_code == 202, r.text
    assert r.headers["location"] == f"/v1/runs/{r.json()['run']['id']}"
    drain_jobs(runtime)
    return api.get(f"/v1/runs/{r.json()['run']['id']}").json()


def test_new_unchanged_changed_and_deleted_files(api, runtime, drop):
    coll = collection(api)
    _write(drop, "in/a.csv", range(0, 10))
    _write(drop, "in/sub/b.csv", range(10, 20))
    _write(drop, "in/ignored.txt", range(3))
    _write(drop, "elsewhere/c.csv", range(3))
    source = _source(api, coll)

    first = _run(api, runtime, source["id"])
    assert first["status"] == "succeeded", first
    assert first["counts"]["new"] == 2 and first["counts"]["succeeded"] == 2
    assert first["rows_loaded"] == 20
    dataset = api.get(f"/v1/collections/{coll}/datasets").json()["items"]
    assert [d["name"] for d in dataset] == ["events"]
    assert sorted(r["id"] for r in rows_of(api, dataset[0]["id"])) == list(range(20))

    second = _run(api, runtime, source["id"])
    assert second["counts"]["unchanged"] == 2 and second["counts"]["new"] == 0
    assert second["status"] == "succeeded" and second["rows_loaded"] == 0

    _write(drop, "in/a.csv", range(100, 105), extra="v2")  # rewritten in place
    (drop / "in/sub/b.csv").unlink()
    snapshots_before = _snapshot_count(runtime, dataset[0])
    third = _run(api, runtime, source["id"])
    assert _snapshot_count(runtime, dataset[0]) == snapshots_before + 1  # one commit
    assert third["counts"]["changed"] == 1 and third["counts"]["deleted"] == 1
    ids = sorted(r["id"] for r in rows_of(api, dataset[0]["id"]))
    assert ids == list(range(10, 20)) + list(range(100, 105))  # a's old rows replaced

    files = api.get(f"/v1/sources/{source['id']}/files").json()["items"]
    states = {f["path"]: f["status"] for f in files}
    assert states == {"in/a.csv": "succeeded", "in/sub/b.csv": "deleted"}


def test_on_delete_delete_rows_removes_a_vanished_files_rows(api, runtime, drop):
    coll = collection(api)
    _write(drop, "in/a.csv", range(0, 4))
    _write(drop, "in/b.csv", range(4, 6))
    source = _source(api, coll, on_delete="delete_rows")
    assert _run(api, runtime, source["id"])["status"] == "succeeded"
    (drop / "in/a.csv").unlink()
    run = _run(api, runtime, source["id"])
    assert run["counts"]["deleted"] == 1
    dataset = api.get(f"/v1/collections/{coll}/datasets").json()["items"][0]
    assert sorted(r["id"] for r in rows_of(api, dataset["id"])) == [4, 5]
    assert api.get(f"/v1/datasets/{dataset['id']}").json()["row_count"] == 2


def test_a_bad_file_fails_alone_and_can_be_retried(api, runtime, drop):
    coll = collection(api)
    _write(drop, "in/good1.csv", range(5))
    _write(drop, "in/good2.csv", range(5, 9))
    (drop / "in/z_bad.csv").write_text("other\nnot,the,same,columns\n")  # drift: fails
    source = _source(api, coll)
    run = _run(api, runtime, source["id"])
    assert run["status"] == "partial"
    assert run["counts"]["succeeded"] == 2 and run["counts"]["failed"] == 1
    failed = api.get(f"/v1/sources/{source['id']}/files", params={"status": "failed"}).json()
    assert [f["path"] for f in failed["items"]] == ["in/z_bad.csv"]
    assert failed["items"][0]["error"]["code"] in {"schema_drift", "parse_error"}

    _write(drop, "in/z_bad.csv", range(50, 52), extra="fixed")
    retry = api.post(f"/v1/sources/{source['id']}/files/retry", json={})
    assert retry.status_code == 202
    drain_jobs(runtime)
    again = api.get(f"/v1/runs/{retry.json()['run']['id']}").json()
    assert again["status"] == "succeeded" and again["counts"]["succeeded"] == 1
    dataset = api.get(f"/v1/collections/{coll}/datasets").json()["items"][0]
    assert sorted(r["id"] for r in rows_of(api, dataset["id"])) == [*range(9), 50, 51]


def test_second_run_request_while_running_is_409(api, runtime, drop):
    coll = collection(api)
    _write(drop, "in/a.csv", range(3))
    source = _source(api, coll)
    first = api.post(f"/v1/sources/{source['id']}/runs")
    second = api.post(f"/v1/sources/{source['id']}/runs")
    assert first.status_code == 202
    assert second.status_code == 409 and second.json()["code"] == "run_in_progress"
    assert second.json()["run_id"] == first.json()["run"]["id"]
    drain_jobs(runtime)
    assert api.post(f"/v1/sources/{source['id']}/runs").status_code == 202


def test_source_validation_and_isolation(api, runtime):
    coll = collection(api)
    r = api.post(
        f"/v1/collections/{coll}/sources",
        json={"name": "x", "connection": "nope", "dataset_name": "d"},
    )
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = api.post(
        f"/v1/collections/{coll}/sources",
        json={
            "name": "x",
            "connection": "drop",
            "dataset_name": "d",
            "schedule": "every now and then",
        },
    )
    assert r.status_code == 422
    ok = _source(api, coll, schedule="*/15 * * * *")
    assert ok["next_run_at"] is not None
    patched = api.patch(f"/v1/sources/{ok['id']}", json={"enabled": False})
    assert patched.json()["enabled"] is False
    from lakeport import accounts

    accounts.create_org(runtime, "rival")
    rival = {"Authorization": f"Bearer {accounts.create_token(runtime, 'rival', None, 'admin')}"}
    assert api.get(f"/v1/sources/{ok['id']}", headers=rival).status_code == 404
    assert api.post(f"/v1/sources/{ok['id']}/runs", headers=rival).status_code == 404


def test_group_commits_wait_for_the_window_unless_a_batch_is_full(api, runtime, drop):
    """N files or T seconds, whichever comes first, share one snapshot."""
    from sqlalchemy import text

    coll = collection(api)
    _write(drop, "in/first.csv", range(0, 2))
    source = _source(api, coll)
    assert _run(api, runtime, source["id"])["status"] == "succeeded"  # creates the table
    dataset = api.get(f"/v1/collections/{coll}/datasets").json()["items"][0]
    runtime.settings.sources.commit_batch_files = 3
    runtime.settings.sources.commit_wait_seconds = 3600

    for n in range(2):  # fewer than a batch: they wait for the window
        _write(drop, f"in/small{n}.csv", range(10 + n * 2, 12 + n * 2))
    waiting = _run(api, runtime, source["id"])
    assert waiting["status"] == "running" and waiting["counts"]["succeeded"] == 0, waiting
    with runtime.engine.connect() as conn:
        ahead = conn.execute(
            text(
                "SELECT scheduled_at - now() FROM procrastinate_jobs"
                " WHERE task_name = 'lakeport:commit_group' AND status = 'todo'"
            )
        ).scalar_one()
    assert ahead.total_seconds() > 3500
    before = _snapshot_count(runtime, dataset)
    with runtime.engine.begin() as conn:  # the hour passes
        conn.execute(
            text("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE status = 'todo'")
        )
    drain_jobs(runtime)
    done = api.get(f"/v1/runs/{waiting['id']}").json()
    assert done["status"] == "succeeded" and done["counts"]["succeeded"] == 2, done
    assert _snapshot_count(runtime, dataset) == before + 1  # both files, one snapshot

    for n in range(6):  # two full batches: committed at once, not an hour later
        _write(drop, f"in/full{n}.csv", range(100 + n * 2, 102 + n * 2))
    before = _snapshot_count(runtime, dataset)
    full = _run(api, runtime, source["id"])
    assert full["status"] == "succeeded" and full["counts"]["succeeded"] == 6, full
    assert _snapshot_count(runtime, dataset) == before + 2  # at most 3 files a snapshot
    ids = sorted(r["id"] for r in rows_of(api, dataset["id"]))
    assert ids == [0, 1, *range(10, 14), *range(100, 112)]


def test_queueing_a_batch_refreshes_the_queue_statistics(api, runtime, drop, monkeypatch):
    """After queueing a batch of files, a run analyzes procrastinate's job table, so the
    fetch is planned for the queue as it now is (a stale "nearly empty" estimate made
    every fetch read the whole queue). Unchanged files queue nothing: no analyze."""
    from sqlalchemy import text

    from lakeport.sources import progress

    monkeypatch.setattr(progress, "ANALYZE_AFTER_QUEUED", 2)  # the first file goes alone

    def analyzed() -> int:
        with runtime.sessions() as session:
            return int(
                session.execute(
                    text(
                        "SELECT analyze_count FROM pg_stat_user_tables "
                        "WHERE relname = 'procrastinate_jobs'"
                    )
                ).scalar_one()
            )

    coll = collection(api)
    for n in range(4):
        _write(drop, f"in/f{n}.csv", range(n * 10, n * 10 + 10))
    source = _source(api, coll)
    before = analyzed()
    assert _run(api, runtime, source["id"])["status"] == "succeeded"
    deadline = time.monotonic() + 10  # statistics reach the view asynchronously
    while analyzed() == before and time.monotonic() < deadline:
        time.sleep(0.2)
    after_first = analyzed()
    assert after_first > before
    assert _run(api, runtime, source["id"])["counts"]["unchanged"] == 4
    time.sleep(1)
    assert analyzed() == after_first
