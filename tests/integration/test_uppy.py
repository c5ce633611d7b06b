"""Uppy's @uppy/aws-s3 plugin against lakeport's Companion-compatible ``s3/`` routes.

Each test sends the requests the plugin sends, in its order (HTTPCommunicationQueue in
@uppy/aws-s3 4.x: createMultipartUpload, then signPart + PUT per chunk, completeMultipart;
listParts on resume; abortMultipartUpload on cancel), with its bodies and query strings,
and checks every answer field by field against what the plugin reads (docs/uppy.md lists
the sources). Part PUTs go to the signed URLs as the browser's XHR would: no token.
"""

from __future__ import annotations

import hashlib
import os
from urllib.parse import quote, urlencode

import httpx
import pytest

from lakeport import accounts
from lakeport.config import Settings
from lakeport.db.models import Upload
from lakeport.pipeline.runner import run_upload
from tests.integration.conftest import backend_settings
from tests.integration.pipeline_helpers import collection, rows_of

MiB = 1024 * 1024
#: Uppy's chunk size for files under 50 GB: max(ceil(size / 10000), 5 MiB).
CHUNK = 5 * MiB
EXPIRY = 15 * 60  # UploadSettings.url_expiry_seconds default


@pytest.fixture(params=["local", "s3"])
def settings(request, tmp_path, database_url) -> Settings:
    return backend_settings(request, tmp_path, database_url)


local_only = pytest.mark.parametrize("settings", ["local"], indirect=True)


def _put(api, url: str, data: bytes, headers: dict | None = None) -> httpx.Response:
    """The browser's XHR PUT to a signed URL: Uppy sends only the signature's headers."""
    if url.startswith("http://testserver"):
        return api.put(url, content=data, headers={"Authorization": "", **(headers or {})})
    return httpx.put(url, content=data, headers=headers or {}, timeout=30)


def _csv(rows: int) -> bytes:
    return ("id,word\n" + "".join(f"{i},word-{i:09d}\n" for i in range(rows))).encode()


def _meta(data: bytes, **extra: str) -> dict[str, str]:
    """Uppy's ``metadata``: every file meta field, stringified (name and type always)."""
    return {"name": "people.csv", "type": "text/csv", "size": str(len(data)), **extra}


def _create(api, coll: str, data: bytes, **extra: str):
    body = {"filename": "people.csv", "type": "text/csv", "metadata": _meta(data, **extra)}
    return api.post(f"/v1/collections/{coll}/s3/multipart", json=body)


def _s3(coll: str, upload_id: str, rest: str = "", key: str | None = None) -> str:
    """A path as Uppy builds it: ``${endpoint}/s3/multipart/${uploadId}...?key=${key}``."""
    key = upload_id if key is None else key
    return f"/v1/collections/{coll}/s3/multipart/{quote(upload_id)}{rest}?key={quote(key)}"


def _upload_parts(api, coll: str, upload_id: str, key: str, data: bytes) -> list[dict]:
    """signPart then PUT for each chunk; the ETag is read from the PUT's answer."""
    parts = []
    for number, start in enumerate(range(0, len(data), CHUNK), start=1):
        signed = api.get(_s3(coll, upload_id, f"/{number}", key))
        assert signed.status_code == 200, signed.text
        assert set(signed.json()) == {"url", "expires"}
        assert signed.json()["expires"] == EXPIRY
        url = signed.json()["url"]
        assert url.startswith("http") and "uploads/" in url  # absolute, straight to storage
        answer = _put(api, url, data[start : start + CHUNK])
        assert answer.status_code == 200, answer.text
        parts.append({"ETag": answer.headers["etag"], "PartNumber": number})
    return parts


def test_uppy_multipart_sequence_registers_the_file(api, runtime):
    coll = collection(api)
    data = _csv(300_000)  # ~6.3 MiB: two chunks, as Uppy would cut it
    assert CHUNK < len(data) < 2 * CHUNK

    created = _create(api, coll, data, dataset_name="people", relativePath="x/people.csv")
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"uploadId", "key"}
    upload_id, key = body["uploadId"], body["key"]
    assert key == upload_id  # opaque to Uppy; the storage object key stays private
    with runtime.sessions() as s:
        row = s.get(Upload, upload_id)
        assert row.object_key not in created.text and row.storage_upload_id not in created.text
        assert row.content_type == "text/csv" and row.options["dataset_name"] == "people"
    assert api.get("/v1/me/quota").json()["org"]["reserved_bytes"] == len(data)

    parts = _upload_parts(api, coll, upload_id, key, data)
    assert parts[0]["ETag"].strip('"') == hashlib.md5(data[:CHUNK]).hexdigest()

    listed = api.get(_s3(coll, upload_id, "", key))  # what a resumed Uppy asks first
    assert listed.status_code == 200, listed.text
    assert listed.json() == [
        {"PartNumber": 1, "Size": CHUNK, "ETag": parts[0]["ETag"]},
        {"PartNumber": 2, "Size": len(data) - CHUNK, "ETag": parts[1]["ETag"]},
    ]

    done = api.post(_s3(coll, upload_id, "/complete", key), json={"parts": parts})
    assert done.status_code == 202, done.text
    assert set(done.json()) == {"location", "key"}
    location = done.json()["location"]
    assert location == f"http://testserver/v1/uploads/{upload_id}" == done.headers["location"]
    assert done.json()["key"] == upload_id
    assert api.get(location).json()["completion_status"] == "combining"

    run_upload(runtime, upload_id)
    final = api.get(location).json()
    assert final["completion_status"] == "registered", final["failure_reason"]
    assert final["kind"] == "multipart" and final["size_bytes"] == len(data)
    assert final["rows_loaded"] == 300_000
    usage = api.get("/v1/me/quota").json()["org"]
    assert usage == {"used_bytes": len(data), "reserved_bytes": 0, "limit_bytes": None}


def test_small_file_goes_multipart_in_one_part(api, runtime):
    """With ``shouldUseMultipart: true`` Uppy sends even a tiny file as one part."""
    coll = collection(api)
    data = _csv(10)
    upload_id = _create(api, coll, data).json()["uploadId"]
    parts = _upload_parts(api, coll, upload_id, upload_id, data)
    assert len(parts) == 1
    done = api.post(_s3(coll, upload_id, "/complete"), json={"parts": parts})
    assert done.status_code == 202, done.text
    run_upload(runtime, upload_id)
    final = api.get(f"/v1/uploads/{upload_id}").json()
    assert final["completion_status"] == "registered", final["failure_reason"]
    assert rows_of(api, final["dataset_id"])[0] == {"id": 0, "word": "word-000000000"}


def test_uppy_params_single_put_then_confirm(api, runtime):
    coll = collection(api)
    data = _csv(50)
    query = urlencode(
        {
            "filename": "small.csv",
            "type": "text/csv",
            "metadata[name]": "small.csv",
            "metadata[type]": "text/csv",
            "metadata[size]": str(len(data)),
            "metadata[dataset_name]": "small",
        }
    )
    r = api.get(f"/v1/collections/{coll}/s3/params?{query}")
    assert r.status_code == 200, r.text
    params = r.json()
    assert set(params) == {"method", "url", "fields", "headers", "expires", "uploadId"}
    assert params["method"] == "PUT" and params["fields"] == {}
    assert params["headers"] == {"Content-Type": "text/csv"}
    assert params["expires"] == EXPIRY and params["url"].startswith("http")
    assert _put(api, params["url"], data, params["headers"]).status_code == 200
    confirmed = api.post(f"/v1/uploads/{params['uploadId']}/confirm")
    assert confirmed.status_code == 202, confirmed.text
    run_upload(runtime, params["uploadId"])
    final = api.get(f"/v1/uploads/{params['uploadId']}").json()
    assert final["completion_status"] == "registered", final["failure_reason"]
    assert final["kind"] == "presigned" and final["options"]["dataset_name"] == "small"


@local_only
def test_abort_is_idempotent_and_releases_the_reservation(api, runtime):
    coll = collection(api)
    data = os.urandom(6 * MiB)
    upload_id = _create(api, coll, data).json()["uploadId"]
    url = api.get(_s3(coll, upload_id, "/1")).json()["url"]
    assert _put(api, url, data[:CHUNK]).status_code == 200
    for _ in range(2):
        gone = api.delete(_s3(coll, upload_id))
        assert gone.status_code == 200 and gone.json() == {}
    assert api.get(f"/v1/uploads/{upload_id}").json()["status"] == "aborted"
    assert api.get("/v1/me/quota").json()["org"]["reserved_bytes"] == 0
    late = api.get(_s3(coll, upload_id, "/2"))
    assert late.status_code == 409 and late.json()["code"] == "invalid_state"


@local_only
def test_missing_or_bad_size_is_422_with_a_message_uppy_shows(api):
    coll = collection(api)
    no_size = {"filename": "a.csv", "type": "text/csv", "metadata": {"name": "a.csv"}}
    r = api.post(f"/v1/collections/{coll}/s3/multipart", json=no_size)
    assert r.status_code == 422
    problem = r.json()
    assert problem["code"] == "validation_error"
    assert "size" in problem["detail"] and problem["message"] == problem["detail"]
    assert problem["errors"] == [{"field": "metadata.size", "message": problem["detail"]}]
    assert r.headers["content-type"] == "application/problem+json"

    bad = {**no_size, "metadata": {"size": "12.5"}}
    r = api.post(f"/v1/collections/{coll}/s3/multipart", json=bad)
    assert r.status_code == 422 and "size in bytes" in r.json()["detail"]

    r = api.get(f"/v1/collections/{coll}/s3/params?filename=a.csv&type=text/csv")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "metadata.size"

    top_level = {**no_size, "size": 3}  # custom createMultipartUpload functions may send it
    assert api.post(f"/v1/collections/{coll}/s3/multipart", json=top_level).status_code == 201


@local_only
def test_bad_upload_option_in_metadata_is_422_and_unknown_meta_is_ignored(api):
    coll = collection(api)
    r = _create(api, coll, b"abc", schema_policy="sometimes", caption="not an option")
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["schema_policy"]
    assert _create(api, coll, b"abc", caption="not an option").status_code == 201


@local_only
def test_another_orgs_upload_id_is_404(api, runtime):
    coll = collection(api)
    upload_id = _create(api, coll, b"abc").json()["uploadId"]
    accounts.create_org(runtime, "rival")
    rival = {"Authorization": f"Bearer {accounts.create_token(runtime, 'rival', None, 'admin')}"}
    parts = {"parts": [{"PartNumber": 1, "ETag": '"x"'}]}
    answers = [
        api.get(_s3(coll, upload_id), headers=rival),
        api.get(_s3(coll, upload_id, "/1"), headers=rival),
        api.post(_s3(coll, upload_id, "/complete"), json=parts, headers=rival),
        api.delete(_s3(coll, upload_id), headers=rival),
    ]
    for r in answers:
        assert r.status_code == 404 and r.json()["code"] == "not_found", r.text
    assert api.get(f"/v1/uploads/{upload_id}").json()["status"] == "pending"  # untouched


@local_only
def test_wrong_collection_or_key_is_refused(api):
    coll, other = collection(api), collection(api, "other")
    upload_id = _create(api, coll, b"abc").json()["uploadId"]
    assert api.get(_s3(other, upload_id)).status_code == 404
    wrong_key = api.get(_s3(coll, upload_id, "/1", key="uploads/people.csv"))
    assert wrong_key.status_code == 422 and wrong_key.json()["errors"][0]["field"] == "key"
    assert api.get(_s3(coll, upload_id, "/0")).status_code == 422  # parts are 1-10000
    assert api.get(_s3(coll, "not-an-id", "/1")).status_code == 404


@local_only
def test_routes_are_in_the_openapi_document(api):
    paths = api.get("/openapi.json").json()["paths"]
    prefix = "/v1/collections/{collection_id}/s3"
    assert {
        f"{prefix}/params",
        f"{prefix}/multipart",
        f"{prefix}/multipart/{{upload_id}}",
        f"{prefix}/multipart/{{upload_id}}/{{part_number}}",
        f"{prefix}/multipart/{{upload_id}}/complete",
    } <= set(paths)
