"""Presigned PUT and multipart sessions end to end, on the local store and on S3.

S3 is moto's server over real HTTP (the only stand-in: real S3 cannot be reached here);
the bytes are PUT to the signed URLs exactly as a client would.
"""

from __future__ import annotations

import hashlib
import os

import httpx
import pytest

from lakeport import accounts
from lakeport.config import Settings
from lakeport.db.models import Upload
from lakeport.pipeline.runner import run_upload
from lakeport.uploads.direct import landing_key
from tests.integration.conftest import backend_settings
from tests.integration.pipeline_helpers import collection, rows_of

MiB = 1024 * 1024


@pytest.fixture(params=["local", "s3"])
def settings(request, tmp_path, database_url) -> Settings:
    return backend_settings(request, tmp_path, database_url)


def _put(api, url: str, data: bytes, headers: dict | None = None) -> httpx.Response:
    if url.startswith("http://testserver"):
        return api.put(url, content=data, headers={"Authorization": "", **(headers or {})})
    return httpx.put(url, content=data, headers=headers or {}, timeout=30)


def _csv(rows: int) -> bytes:
    return ("id,word\n" + "".join(f"{i},w{i}\n" for i in range(rows))).encode()


def test_presigned_put_confirm_and_register(api, runtime):
    coll = collection(api)
    data = _csv(100)
    r = api.post(
        f"/v1/collections/{coll}/uploads/presigned",
        json={
            "filename": "p.csv",
            "size_bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "dataset_name": "pre",
        },
    )
    assert r.status_code == 201, r.text
    session = r.json()
    assert session["method"] == "PUT" and session["url"].startswith("http")
    assert api.get("/v1/me/quota").json()["org"]["reserved_bytes"] == len(data)
    assert _put(api, session["url"], data, session["headers"]).status_code == 200
    confirmed = api.post(f"/v1/uploads/{session['upload_id']}/confirm")
    assert confirmed.status_code == 202, confirmed.text
    run_upload(runtime, session["upload_id"])
    done = api.get(f"/v1/uploads/{session['upload_id']}").json()
    assert done["completion_status"] == "registered", done["failure_reason"]
    assert len(rows_of(api, done["dataset_id"])) == 100
    usage = api.get("/v1/me/quota").json()["org"]
    assert usage == {"used_bytes": len(data), "reserved_bytes": 0, "limit_bytes": None}


def test_confirm_without_object_and_with_wrong_size(api, runtime):
    coll = collection(api)
    r = api.post(
        f"/v1/collections/{coll}/uploads/presigned", json={"filename": "p.csv", "size_bytes": 10}
    )
    session = r.json()
    missing = api.post(f"/v1/uploads/{session['upload_id']}/confirm")
    assert missing.status_code == 409 and missing.json()["code"] == "upload_not_found"
    assert _put(api, session["url"], b"0123456789abc").status_code == 200
    wrong = api.post(f"/v1/uploads/{session['upload_id']}/confirm")
    assert wrong.status_code == 422 and wrong.json()["code"] == "upload_mismatch"
    assert wrong.json()["stored_bytes"] == 13
    with runtime.sessions() as s:
        key = s.get(Upload, session["upload_id"]).object_key
    assert runtime.store.stat(key) is None  # the mismatching object was deleted


def test_presigned_size_cap_and_quota(api, runtime):
    coll = collection(api)
    too_big = api.post(
        f"/v1/collections/{coll}/uploads/presigned", json={"filename": "x", "size_bytes": 10**12}
    )
    assert too_big.status_code == 413 and too_big.json()["code"] == "payload_too_large"
    accounts.set_quota(runtime, "default", None, 1000)
    over = api.post(
        f"/v1/collections/{coll}/uploads/presigned", json={"filename": "x", "size_bytes": 1001}
    )
    assert over.status_code == 413
    body = over.json()
    assert body["code"] == "quota_exceeded" and body["rejected_bytes"] == 1001
    assert body["limit_bytes"] == 1000 and body["used_bytes"] == 0


def test_multipart_upload_resume_complete_and_register(api, runtime):
    coll = collection(api)
    data = _csv(400_000)  # ~4.6 MiB of CSV
    data += b"".join(f"{i},pad{'x' * 20}\n".encode() for i in range(400_000, 700_000))
    r = api.post(
        f"/v1/collections/{coll}/uploads/multipart",
        json={"filename": "big.csv", "size_bytes": len(data), "part_size": 5 * MiB},
    )
    assert r.status_code == 201, r.text
    session = r.json()
    chunks = [data[i : i + 5 * MiB] for i in range(0, len(data), 5 * MiB)]
    assert session["part_size"] == 5 * MiB and session["part_count"] == len(chunks) == 3
    first = _put(api, session["parts"][0]["url"], chunks[0])
    assert first.status_code == 200
    assert first.headers["etag"].strip('"') == hashlib.md5(chunks[0]).hexdigest()
    # a "resumed" client asks what storage holds, then re-signs only the missing parts
    held = api.get(f"/v1/uploads/{session['upload_id']}/parts").json()["parts"]
    assert [(p["part_number"], p["size_bytes"]) for p in held] == [(1, 5 * MiB)]
    fresh = api.post(
        f"/v1/uploads/{session['upload_id']}/parts/sign", json={"part_numbers": [2, 3]}
    ).json()["parts"]
    etags = {1: first.headers["etag"]}
    for part in fresh:
        r = _put(api, part["url"], chunks[part["part_number"] - 1])
        assert r.status_code == 200
        etags[part["part_number"]] = r.headers["etag"]
    parts = [{"part_number": n, "etag": e} for n, e in sorted(etags.items())]
    done = api.post(f"/v1/uploads/{session['upload_id']}/complete", json={"parts": parts})
    assert done.status_code == 202
    assert done.json()["completion_status"] == "combining"
    run_upload(runtime, session["upload_id"])
    final = api.get(f"/v1/uploads/{session['upload_id']}").json()
    assert final["completion_status"] == "registered", final["failure_reason"]
    assert final["size_bytes"] == len(data) and final["rows_loaded"] == 700_000


def test_multipart_wrong_etag_fails_naming_the_part(api, runtime):
    coll = collection(api)
    data = os.urandom(6 * MiB)
    session = api.post(
        f"/v1/collections/{coll}/uploads/multipart",
        json={"filename": "b.bin", "size_bytes": len(data), "part_size": 5 * MiB},
    ).json()
    _put(api, session["parts"][0]["url"], data[: 5 * MiB])
    _put(api, session["parts"][1]["url"], data[5 * MiB :])
    parts = [
        {"part_number": 1, "etag": '"' + "0" * 32 + '"'},
        {"part_number": 2, "etag": hashlib.md5(data[5 * MiB :]).hexdigest()},
    ]
    api.post(f"/v1/uploads/{session['upload_id']}/complete", json={"parts": parts})
    run_upload(runtime, session["upload_id"])
    final = api.get(f"/v1/uploads/{session['upload_id']}").json()
    assert final["completion_status"] == "failed"
    assert final["failure_reason"]["code"] == "invalid_parts"
    assert "part 1" in final["failure_reason"]["message"]
    assert api.get("/v1/me/quota").json()["org"]["reserved_bytes"] == 0


def test_multipart_with_a_wrong_sha256_fails_and_the_object_is_deleted(api, runtime):
    """The declared whole-file SHA-256 is checked against the combined object."""
    coll = collection(api)
    data = _csv(500_000)
    assert len(data) > 5 * MiB
    declared = hashlib.sha256(data + b"x").hexdigest()
    session = api.post(
        f"/v1/collections/{coll}/uploads/multipart",
        json={
            "filename": "c.csv",
            "size_bytes": len(data),
            "part_size": 5 * MiB,
            "sha256": declared,
        },
    ).json()
    parts = []
    for part, start in zip(session["parts"], range(0, len(data), 5 * MiB), strict=True):
        chunk = data[start : start + 5 * MiB]
        assert _put(api, part["url"], chunk).status_code == 200
        parts.append({"part_number": part["part_number"], "etag": hashlib.md5(chunk).hexdigest()})
    api.post(f"/v1/uploads/{session['upload_id']}/complete", json={"parts": parts})
    run_upload(runtime, session["upload_id"])
    final = api.get(f"/v1/uploads/{session['upload_id']}").json()
    assert final["completion_status"] == "failed"
    assert final["failure_reason"]["code"] == "upload_mismatch"
    assert final["failure_reason"]["details"]["stored_sha256"] == hashlib.sha256(data).hexdigest()
    org = api.get("/v1/me").json()["org"]["id"]
    assert runtime.store.stat(landing_key(org, session["upload_id"])) is None
    assert api.get("/v1/me/quota").json()["org"]["used_bytes"] == 0


def test_abort_is_idempotent_and_releases_everything(api, runtime):
    coll = collection(api)
    session = api.post(
        f"/v1/collections/{coll}/uploads/multipart",
        json={"filename": "a.bin", "size_bytes": 6 * MiB},
    ).json()
    _put(api, session["parts"][0]["url"], os.urandom(5 * MiB))
    assert api.delete(f"/v1/uploads/{session['upload_id']}").status_code == 204
    assert api.delete(f"/v1/uploads/{session['upload_id']}").status_code == 204
    assert api.get(f"/v1/uploads/{session['upload_id']}").json()["status"] == "aborted"
    assert api.get("/v1/me/quota").json()["org"]["reserved_bytes"] == 0
    late = api.post(
        f"/v1/uploads/{session['upload_id']}/complete",
        json={"parts": [{"part_number": 1, "etag": "x"}]},
    )
    assert late.status_code == 409 and late.json()["code"] == "invalid_state"


@pytest.mark.parametrize("settings", ["local"], indirect=True)
def test_tampered_and_foreign_local_urls_are_403(api, runtime):
    """S3 checks its own signatures; this is the local store's /v1/blobs."""
    coll = collection(api)
    a = api.post(
        f"/v1/collections/{coll}/uploads/presigned", json={"filename": "a", "size_bytes": 3}
    ).json()
    b = api.post(
        f"/v1/collections/{coll}/uploads/presigned", json={"filename": "b", "size_bytes": 3}
    ).json()
    tampered = a["url"].replace("sig=", "sig=0")
    assert _put(api, tampered, b"abc").status_code == 403
    a_path, a_query = a["url"].split("?")
    b_path = b["url"].split("?")[0]
    assert _put(api, f"{b_path}?{a_query}", b"abc").status_code == 403
    expired = (
        a_path
        + "?"
        + "&".join(p if not p.startswith("expires=") else "expires=1" for p in a_query.split("&"))
    )
    r = _put(api, expired, b"abc")
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
