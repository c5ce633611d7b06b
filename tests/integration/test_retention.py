"""Retention: abandoned sessions expire (storage and quota released), old rows go.

Session expiry runs on both backends (S3 is moto's server over HTTP, the only stand-in);
row retention does not touch storage sessions, so it runs on the local store only.
"""

from __future__ import annotations

import os
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from lakeport.config import Settings
from lakeport.db.models import Upload, utcnow
from lakeport.pipeline.runner import run_upload
from lakeport.storage.s3 import S3Store
from lakeport.uploads.retention import run_retention
from tests.integration.conftest import backend_settings
from tests.integration.pipeline_helpers import collection

MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def settings(request, tmp_path, database_url) -> Settings:
    return backend_settings(request, tmp_path, database_url)


def _put(api, url: str, data: bytes) -> httpx.Response:
    """PUT to a signed URL: the app's /v1/blobs (local) or the S3 endpoint itself."""
    if url.startswith("http://testserver"):
        return api.put(url, content=data, headers={"Authorization": ""})
    return httpx.put(url, content=data, timeout=30)


def _storage_leftovers(runtime) -> list[str]:
    """What storage keeps of unfinished multipart sessions (the test opens one): open S3
    multipart uploads, or the local store's staged parts (``.lakeport/multipart/<id>/``,
    named by the store's own upload id, not lakeport's)."""
    store = runtime.store
    if isinstance(store, S3Store):
        uploads = store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", [])
        return [u["UploadId"] for u in uploads]
    staging = runtime.settings.storage_root() / ".lakeport" / "multipart"
    return [str(p) for p in staging.rglob("*") if p.is_file()]


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
    r = _put(api, session["parts"][0]["url"], os.urandom(5 * MiB))
    assert r.status_code == 200
    assert _storage_leftovers(runtime)  # the part is held
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
    assert _storage_leftovers(runtime) == []
    assert api.get(f"/v1/uploads/{fresh['upload_id']}").json()["status"] == "pending"


@pytest.mark.parametrize("settings", ["local"], indirect=True)
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
