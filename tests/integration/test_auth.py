"""Tokens, roles and tenant isolation over the real API and a real PostgreSQL."""

from __future__ import annotations

import pytest

from lakeport import accounts
from lakeport.db import tenancy
from lakeport.db.models import ApiToken


def _other_org_client(api, runtime):
    accounts.create_org(runtime, "rival")
    token = accounts.create_token(runtime, "rival", None, "admin")
    return {"Authorization": f"Bearer {token}"}


def test_missing_and_bad_tokens_are_401_problems(api):
    for headers in (
        {"Authorization": ""},
        {"Authorization": "Bearer nope"},
        {"Authorization": "Basic abc"},
    ):
        r = api.get("/v1/me", headers=headers)
        assert r.status_code == 401
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "unauthorized"


def test_me_and_legacy_header(api, admin_token):
    r = api.get("/v1/me", headers={"Authorization": "", "X-User-Token": admin_token})
    assert r.status_code == 200
    body = r.json()
    assert body["user"]["name"] == "admin" and body["org"]["name"] == "default"
    assert body["role"] == "admin"


def test_tokens_are_stored_hashed_and_can_be_revoked(api, runtime, admin_token):
    with runtime.sessions() as session:
        hashes = [t.token_hash for t in session.query(ApiToken).all()]
    assert admin_token not in hashes
    assert tenancy.hash_token(admin_token) in hashes
    accounts.revoke_token(runtime, admin_token)
    assert api.get("/v1/me").status_code == 401


def test_another_orgs_collection_is_404_never_403(api, runtime):
    coll = api.post("/v1/collections", json={"name": "Sales"}).json()
    rival = _other_org_client(api, runtime)
    for path in (f"/v1/collections/{coll['id']}", f"/v1/collections/{coll['id']}/datasets"):
        r = api.get(path, headers=rival)
        assert r.status_code == 404, path
        assert "Sales" not in r.text
    r = api.post(
        f"/v1/collections/{coll['id']}/uploads", headers=rival, files={"file": ("a.csv", b"a\n1\n")}
    )
    assert r.status_code == 404
    assert api.get("/v1/collections", headers=rival).json() == {"items": []}


@pytest.mark.parametrize(
    "path", ["/v1/uploads/{id}", "/v1/datasets/{id}", "/v1/datasets/{id}/rows"]
)
def test_unknown_and_malformed_ids_are_404(api, path):
    for bad in ("00000000-0000-0000-0000-000000000000", "not-a-uuid", "'; DROP TABLE uploads;--"):
        r = api.get(path.format(id=bad))
        assert r.status_code == 404, (path, bad)
        assert r.json()["code"] == "not_found"


def test_viewer_cannot_upload_but_can_read(api, runtime):
    coll = api.post("/v1/collections", json={"name": "ops"}).json()
    accounts.create_user(runtime, "vera", "default", "member")
    token = accounts.create_token(runtime, "default", "vera", "member")
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get(f"/v1/collections/{coll['id']}", headers=headers).status_code == 403
    accounts.grant(runtime, "default", "vera", coll["id"], "viewer")
    assert api.get(f"/v1/collections/{coll['id']}", headers=headers).status_code == 200
    r = api.post(
        f"/v1/collections/{coll['id']}/uploads",
        headers=headers,
        files={"file": ("a.csv", b"a\n1\n")},
    )
    assert r.status_code == 403
    assert r.json()["code"] == "forbidden"


def test_collections_crud_and_duplicates(api):
    r = api.post("/v1/collections", json={"name": "Finance", "description": "money"})
    assert r.status_code == 201
    body = r.json()
    assert set(body) == {"id", "name", "description", "created_at"}
    assert api.post("/v1/collections", json={"name": "finance"}).status_code == 409
    assert api.post("/v1/collections", json={"name": ""}).json()["code"] == "validation_error"
    items = api.get("/v1/collections").json()["items"]
    assert [c["id"] for c in items] == [body["id"]]
