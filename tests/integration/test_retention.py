"""Retention: abandoned sessions expire (storage and quota released), old rows go."""

from __future__ import annotations

import os
from datetime import timedelta

from sqlalchemy import update

from lakeport.db.models import Upload, utcnow
from lakeport.pipeline.runner import run_upload
from lakeport.uploads.retention import run_retention
from tests.integration.pipeline_helpers import collection

MiB = 1024 * 1024


def _age(runtime, upload_id: str, **delta) -> None:
    with runtime.sessions.begin() as s:
        s.execute(
            update(Upload)
            .where(Upload.id == upload_id)
            .values(expires_at=utcnow() - timedelta(**delta))
        )


def test_abandoned_multipart_session_expires_and_releases_quota(api, runtime):
    coll = collection(api)
    session = api.post(
        f"/v1/collections/{coll}/uploads/multipart",
        json={"filename": "a.bin", "size_bytes": 6 * MiB},
    ).json()
    r = api.put(session["parts"][0]["url"], content=os.urandom(5 * MiB))
    assert r.status_code == 200
    assert api.get("/v1/me/quota").json()["org"]["reserved_bytes"] == 6 * MiB
    fresh = api.post(
        f"/v1/collections/{coll}/uploads/presigned", json={"filename": "b", "size_bytes": 10}
    ).json()

    assert run_retention(runtime).expired_sessions == 0  # nothing is stale yet
    _age(runtime, session["upload_id"], seconds=1)
    report = run_retention(runtime)
    assert report.expired_sessions == 1
    upload = api.get(f"/v1/uploads/{session['upload_id']}").json()
    assert upload["status"] == "expired"
    assert api.get("/v1/me/quota").json()["org"]["reserved_bytes"] == 10  # only `fresh`
    staging = runtime.settings.storage_root()
    leftovers = [p for p in staging.rglob("*") if p.is_file() and session["upload_id"] in str(p)]
    assert leftovers == []
    assert api.get(f"/v1/uploads/{fresh['upload_id']}").json()["status"] == "pending"


def test_rows_past_retention_are_deleted_and_recent_ones_kept(api, runtime):
    coll = collection(api)
    r = api.post(f"/v1/collections/{coll}/uploads", files={"file": ("a.csv", b"a\n1\n")})
    old = r.json()["id"]
    run_upload(runtime, old)
    r = api.post(f"/v1/collections/{coll}/uploads", files={"file": ("b.csv", b"a\n2\n")})
    recent = r.json()["id"]
    run_upload(runtime, recent)
    registered = api.get(f"/v1/uploads/{recent}").json()
    assert registered["expires_at"] is not None  # 30 days after registration
    _age(runtime, old, days=1)
    assert run_retention(runtime).deleted_rows == 1
    assert api.get(f"/v1/uploads/{old}").status_code == 404
    assert api.get(f"/v1/uploads/{recent}").status_code == 200
    # the dataset the old upload created is untouched: the table owns its data
    datasets = api.get(f"/v1/collections/{coll}/datasets").json()["items"]
    assert sorted(d["row_count"] for d in datasets) == [1, 1]
