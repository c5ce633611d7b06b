"""Row errors (``on_error``): abort names the bad row; skip_row lands the good rows, keeps
the bad ones in a rejects list and says how many, against real PostgreSQL, storage and
Iceberg tables."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from lakeport import accounts
from lakeport.config import Settings
from lakeport.db.models import Upload, utcnow
from lakeport.formats import Reject
from lakeport.pipeline.rejects import RejectSink, read_rejects, rejects_key
from lakeport.pipeline.runner import run_upload
from lakeport.storage.s3 import S3Store
from lakeport.uploads.retention import run_retention
from tests.integration.conftest import drop_settings
from tests.integration.pipeline_helpers import collection, drain_jobs, rows_of, upload
from tests.s3server import create_bucket, s3_settings

# fmt: off
RAGGED_CSV = (
    b"id,name,score\n"
    b"1,ann,1.5\n"
    b"2,bob\n"
    b'3,"c\nd",3.5\n'
    b"4,dan,4.5,extra\n"
    b"oops\n"
    b"5,eve,5.5\n"
)
# fmt: on
BROKEN_NDJSON = (
    b'{"id": 1, "tag": "a"}\n'
    b'{"id": 2, "tag": \n'
    b'{"id": 3, "tag": "c"}\n'
    b"[4, 5]\n"
    b'{"id": "six" "tag": "f"}\n'
    b'{"id": 7, "tag": "g"}\n'
)


@pytest.fixture
def settings(tmp_path, database_url, drop) -> Settings:
    return drop_settings(tmp_path, database_url, drop)


def _rejects(api: Any, upload_id: str, **params: int) -> dict[str, Any]:
    r = api.get(f"/v1/uploads/{upload_id}/rejects", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _counts_add_up(done: dict[str, Any]) -> None:
    assert done["rows_read"] == done["rows_loaded"] + done["rows_rejected"]


def test_skip_row_csv_through_the_worker_lands_good_rows_and_lists_the_rest(api, runtime):
    coll = collection(api)
    r = api.post(
        f"/v1/collections/{coll}/uploads",
        files={"file": ("scores.csv", RAGGED_CSV)},
        data={"on_error": "skip_row"},
    )
    assert r.status_code == 202, r.text
    assert r.json()["options"]["on_error"] == "skip_row"
    drain_jobs(runtime)
    done = api.get(f"/v1/uploads/{r.json()['id']}").json()
    assert done["completion_status"] == "registered", done["failure_reason"]
    assert (done["rows_read"], done["rows_loaded"], done["rows_rejected"]) == (6, 3, 3)
    _counts_add_up(done)
    assert done["schema_preview"]["rows_rejected"] == 3
    rows = sorted(rows_of(api, done["dataset_id"]), key=lambda row: row["id"])
    assert rows == [  # from the Iceberg table; id stayed a number despite "oops"
        {"id": 1, "name": "ann", "score": 1.5},
        {"id": 3, "name": "c\nd", "score": 3.5},
        {"id": 5, "name": "eve", "score": 5.5},
    ]
    assert _rejects(api, done["id"]) == {
        "items": [
            {
                "line": 3,
                "column": "score",
                "value": "2,bob",
                "reason": "the row has 2 fields but the header has 3",
            },
            {
                "line": 6,
                "column": None,
                "value": "4,dan,4.5,extra",
                "reason": "the row has 4 fields but the header has 3",
            },
            {
                "line": 7,
                "column": "name",
                "value": "oops",
                "reason": "the row has 1 fields but the header has 3",
            },
        ],
        "total": 3,
        "limit": 100,
        "offset": 0,
    }


def test_skip_row_ndjson_from_a_presigned_session(api, runtime):
    coll = collection(api)
    r = api.post(
        f"/v1/collections/{coll}/uploads/presigned",
        json={
            "filename": "events.ndjson",
            "size_bytes": len(BROKEN_NDJSON),
            "sha256": hashlib.sha256(BROKEN_NDJSON).hexdigest(),
            "on_error": "skip_row",
        },
    )
    assert r.status_code == 201, r.text
    session = r.json()
    put = api.put(session["url"], content=BROKEN_NDJSON, headers={"Authorization": ""})
    assert put.status_code == 200
    assert api.post(f"/v1/uploads/{session['upload_id']}/confirm").status_code == 202
    run_upload(runtime, session["upload_id"])
    done = api.get(f"/v1/uploads/{session['upload_id']}").json()
    assert done["completion_status"] == "registered", done["failure_reason"]
    assert (done["rows_read"], done["rows_loaded"], done["rows_rejected"]) == (6, 3, 3)
    _counts_add_up(done)
    rows = sorted(rows_of(api, done["dataset_id"]), key=lambda row: row["id"])
    assert rows == [{"id": 1, "tag": "a"}, {"id": 3, "tag": "c"}, {"id": 7, "tag": "g"}]
    items = _rejects(api, done["id"])["items"]
    assert [(i["line"], i["column"], i["value"]) for i in items] == [
        (2, None, '{"id": 2, "tag": '),
        (4, None, "[4, 5]"),
        (5, None, '{"id": "six" "tag": "f"}'),
    ]
    assert items[1]["reason"] == "an array where the records are objects"
    assert all(i["reason"] for i in items)


@pytest.mark.parametrize(
    ("name", "data", "line", "column", "value"),
    [
        ("scores.csv", RAGGED_CSV, 3, 3, "2,bob"),
        # the truncated line 2 swallows line 3; the decoder notices at line 4
        ("events.ndjson", BROKEN_NDJSON, 4, 1, '[4, 5]\n{"id": "six" "tag": "f"}\n{"id": 7'),
    ],
)
def test_abort_fails_naming_line_column_and_value(api, runtime, name, data, line, column, value):
    coll = collection(api)
    done = upload(api, runtime, coll, name, data)
    assert done["options"]["on_error"] == "abort"  # the default
    assert done["completion_status"] == "failed"
    reason = done["failure_reason"]
    assert reason["code"] == "parse_error"
    assert f"line {line}" in reason["message"]
    assert reason["details"]["line"] == line
    assert reason["details"]["column"] == column
    assert reason["details"]["value"] == value
    assert done["dataset_id"] is None and done["rows_loaded"] is None
    assert _rejects(api, done["id"]) == {"items": [], "total": 0, "limit": 100, "offset": 0}
    assert api.get(f"/v1/collections/{coll}/datasets").json()["items"] == []


def test_rejects_are_paginated(api, runtime):
    coll = collection(api)
    data = b"a,b\n" + b"".join(b"%d,x\n%d\n" % (i, i) for i in range(30))
    done = upload(api, runtime, coll, "many.csv", data, on_error="skip_row")
    assert (done["rows_loaded"], done["rows_rejected"]) == (30, 30)
    page = _rejects(api, done["id"], offset=25, limit=10)
    assert (page["total"], page["offset"], page["limit"]) == (30, 25, 10)
    assert [i["line"] for i in page["items"]] == [2 + 2 * k + 1 for k in range(25, 30)]
    assert [i["value"] for i in page["items"]] == [str(k) for k in range(25, 30)]
    assert len(_rejects(api, done["id"], limit=7)["items"]) == 7
    assert _rejects(api, done["id"], offset=30)["items"] == []
    for bad in ({"limit": 0}, {"limit": 1001}, {"offset": -1}):
        r = api.get(f"/v1/uploads/{done['id']}/rejects", params=bad)
        assert r.status_code == 422 and r.json()["code"] == "validation_error", bad


def test_another_orgs_rejects_are_404(api, runtime):
    coll = collection(api)
    done = upload(api, runtime, coll, "scores.csv", RAGGED_CSV, on_error="skip_row")
    assert done["rows_rejected"] == 3
    accounts.create_org(runtime, "rival")
    rival = {"Authorization": f"Bearer {accounts.create_token(runtime, 'rival', None, 'admin')}"}
    r = api.get(f"/v1/uploads/{done['id']}/rejects", headers=rival)
    assert r.status_code == 404 and r.json()["code"] == "not_found"
    assert "oops" not in r.text
    assert api.get("/v1/uploads/not-an-id/rejects").status_code == 404


def test_uppy_metadata_carries_on_error(api, runtime):
    coll = collection(api)
    meta = {"size": str(len(RAGGED_CSV)), "on_error": "skip_row"}
    query = {"filename": "scores.csv", **{f"metadata[{k}]": v for k, v in meta.items()}}
    params = api.get(f"/v1/collections/{coll}/s3/params", params=query)
    assert params.status_code == 200, params.text
    upload_id = params.json()["uploadId"]
    put = api.put(params.json()["url"], content=RAGGED_CSV, headers={"Authorization": ""})
    assert put.status_code == 200
    assert api.post(f"/v1/uploads/{upload_id}/confirm").status_code == 202
    run_upload(runtime, upload_id)
    done = api.get(f"/v1/uploads/{upload_id}").json()
    assert done["options"]["on_error"] == "skip_row"
    assert (done["rows_loaded"], done["rows_rejected"]) == (3, 3)
    bad = api.get(
        f"/v1/collections/{coll}/s3/params",
        params={**query, "metadata[on_error]": "ignore"},
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["on_error"]


def test_bad_on_error_values_are_422_everywhere(api, runtime):
    coll = collection(api)
    r = api.post(
        f"/v1/collections/{coll}/uploads",
        files={"file": ("a.csv", b"a\n1\n")},
        data={"on_error": "ignore"},
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["on_error"]
    r = api.post(
        f"/v1/collections/{coll}/uploads/presigned",
        json={"filename": "a.csv", "size_bytes": 4, "on_error": "ignore"},
    )
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    r = api.post(
        f"/v1/collections/{coll}/sources",
        json={"name": "s", "connection": "drop", "dataset_name": "d", "on_error": "ignore"},
    )
    assert r.status_code == 422 and r.json()["code"] == "validation_error"


def test_a_source_with_skip_row_loads_its_files_good_rows(api, runtime, drop):
    coll = collection(api)
    (drop / "in").mkdir()
    (drop / "in/a.csv").write_bytes(RAGGED_CSV)
    r = api.post(
        f"/v1/collections/{coll}/sources",
        json={
            "name": "drops",
            "connection": "drop",
            "prefix": "in/",
            "pattern": "**/*.csv",
            "dataset_name": "scores",
            "on_error": "skip_row",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["options"]["on_error"] == "skip_row"
    run = api.post(f"/v1/sources/{r.json()['id']}/runs")
    assert run.status_code == 202, run.text
    drain_jobs(runtime)
    [file] = api.get(f"/v1/sources/{r.json()['id']}/files").json()["items"]
    assert file["status"] == "succeeded", file
    assert file["rows_loaded"] == 3
    done = api.get(f"/v1/uploads/{file['upload_id']}").json()
    assert (done["rows_read"], done["rows_loaded"], done["rows_rejected"]) == (6, 3, 3)
    assert [i["line"] for i in _rejects(api, done["id"])["items"]] == [3, 6, 7]
    # the list lives in the landing zone, never in the source's own storage
    assert not [p for p in drop.rglob("*") if "rejects" in p.name]
    assert runtime.store.stat(rejects_key(runtime_org(runtime, done["id"]), done["id"]))


def test_retention_deletes_the_rejects_list_with_the_upload(api, runtime):
    coll = collection(api)
    done = upload(api, runtime, coll, "scores.csv", RAGGED_CSV, on_error="skip_row")
    key = rejects_key(runtime_org(runtime, done["id"]), done["id"])
    assert runtime.store.stat(key) is not None
    with runtime.sessions.begin() as session:
        session.execute(
            update(Upload)
            .where(Upload.id == done["id"])
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert run_retention(runtime).deleted_rows == 1
    assert runtime.store.stat(key) is None


def runtime_org(runtime: Any, upload_id: str) -> str:
    with runtime.sessions() as session:
        found = session.get(Upload, upload_id)
        assert found is not None
        return str(found.org_id)


def test_the_rejects_list_streams_through_s3_too(moto_endpoint, tmp_path):
    storage = s3_settings(moto_endpoint, create_bucket(moto_endpoint))
    store = S3Store(storage, scratch_dir=tmp_path)
    key = rejects_key("org", "up")
    try:
        sink = RejectSink(store, key)
        for line in range(1, 2001):
            sink(Reject(line, "b", "x" * 5000, "the row has 1 fields but the header has 2"))
        assert sink.close() == 2000
        page = read_rejects(store, key, offset=1990, limit=100)
        assert [r["line"] for r in page] == list(range(1991, 2001))
        assert all(len(r["value"]) == 1000 for r in page)
    finally:
        store.delete(key)
        store.close()
