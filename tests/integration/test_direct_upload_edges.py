"""The direct-upload endpoint's edges: caps, content types, quotas, path tricks."""

from __future__ import annotations

from lakeport import accounts
from tests.integration.pipeline_helpers import collection


def _landing_files(runtime):
    root = runtime.settings.storage_root()
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_over_the_cap_is_413_and_nothing_is_kept(api, runtime):
    runtime.settings.uploads.max_direct_bytes = 1000
    coll = collection(api)
    r = api.post(f"/v1/collections/{coll}/uploads", files={"file": ("big.csv", b"x" * 5000)})
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"
    assert _landing_files(runtime) == []
    assert api.get(f"/v1/collections/{coll}/uploads").json()["items"] == []


def test_not_multipart_is_415_and_missing_file_is_400(api):
    coll = collection(api)
    r = api.post(
        f"/v1/collections/{coll}/uploads",
        content=b"a,b\n1,2\n",
        headers={"content-type": "text/csv"},
    )
    assert r.status_code == 415 and r.json()["code"] == "unsupported_media_type"
    r = api.post(
        f"/v1/collections/{coll}/uploads",
        data={"dataset_name": "x"},
        files={"other": ("a.csv", b"a\n1\n")},
    )
    assert r.status_code == 400 and r.json()["code"] == "bad_request"


def test_unknown_or_bad_options_are_422(api):
    coll = collection(api)
    for fields in ({"schema_policy": "yolo"}, {"colour": "blue"}, {"delimiter": ";;"}):
        r = api.post(
            f"/v1/collections/{coll}/uploads", data=fields, files={"file": ("a.csv", b"a\n1\n")}
        )
        assert r.status_code == 422, fields
        assert r.json()["code"] == "validation_error"


def test_file_name_never_reaches_a_storage_path(api, runtime):
    coll = collection(api)
    evil = "../../../../etc/passwd"
    r = api.post(f"/v1/collections/{coll}/uploads", files={"file": (evil, b"a\n1\n")})
    assert r.status_code == 202
    assert r.json()["filename"] == evil
    files = _landing_files(runtime)
    assert files and all("passwd" not in str(p) and ".." not in p.parts for p in files)
    assert all(str(p).startswith(str(runtime.settings.storage_root())) for p in files)


def test_quota_counts_direct_uploads_as_they_stream(api, runtime):
    accounts.set_quota(runtime, "default", None, 3 * 1024 * 1024)
    coll = collection(api)
    ok = api.post(f"/v1/collections/{coll}/uploads", files={"file": ("a.csv", b"a\n1\n")})
    assert ok.status_code == 202
    r = api.post(
        f"/v1/collections/{coll}/uploads",
        files={"file": ("big.csv", b"a\n" + b"1\n" * (3 * 1024 * 1024))},
    )
    assert r.status_code == 413
    body = r.json()
    assert body["code"] == "quota_exceeded"
    assert body["limit_bytes"] == 3 * 1024 * 1024 and body["rejected_bytes"] > 0
    usage = api.get("/v1/me/quota").json()
    assert usage["org"] == {"used_bytes": 4, "reserved_bytes": 0, "limit_bytes": 3 * 1024 * 1024}
    assert usage["user"]["used_bytes"] == 4 and usage["user"]["reserved_bytes"] == 0


def test_nul_bytes_in_names_and_headers_never_break_the_database(api, runtime):
    from lakeport.pipeline.runner import run_upload

    coll = collection(api)
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="file"; filename="we\x00ird.csv"'
        b"\r\nContent-Type: text/csv\r\n\r\nna\x00me,b\n1,2\n\r\n--XyZ--\r\n"
    )
    r = api.post(
        f"/v1/collections/{coll}/uploads",
        content=body,
        headers={"content-type": "multipart/form-data; boundary=XyZ"},
    )
    assert r.status_code == 202, r.text
    run_upload(runtime, r.json()["id"])
    done = api.get(f"/v1/uploads/{r.json()['id']}").json()
    assert done["completion_status"] in ("registered", "failed")
    assert done["filename"] == "we\ufffdird.csv"
    if done["completion_status"] == "failed":
        assert done["failure_reason"]["code"] != "internal_error"
