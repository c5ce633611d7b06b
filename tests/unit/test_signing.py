"""Local-store URL signing: a URL grants one method on one object or part, until expiry."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest

from lakeport.errors import LakeportError
from lakeport.storage.capabilities import MAX_EXPIRES_IN
from lakeport.storage.local import LocalStore
from lakeport.storage.signing import sign_local_url, verify_local_url

KEY = b"unit-test-signing-key"
NOW = 1_800_000_000.0


def _sign(key="uploads/o1/u1/data", expires_in=600, **kw):
    url, _ = sign_local_url(KEY, "https://lp.example", "PUT", key, expires_in, now=NOW, **kw)
    return url


def _with_query(url, **changes):
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update({k: str(v) for k, v in changes.items()})
    return urlunsplit(parts._replace(query=urlencode(query)))


def _forbidden(method, url, **kw):
    with pytest.raises(LakeportError) as err:
        verify_local_url(KEY, method, url, now=NOW + 1, **kw)
    assert err.value.code == "forbidden"
    return err.value


def test_signed_put_roundtrip():
    url, expires_at = sign_local_url(
        KEY, "https://lp.example/", "PUT", "uploads/o1/u1/data", 600, now=NOW
    )
    assert url.startswith("https://lp.example/v1/blobs/uploads/o1/u1/data?")
    assert "expires=" in url and "sig=" in url
    grant = verify_local_url(KEY, "put", url, now=NOW + 599)
    assert (grant.method, grant.key, grant.upload_id, grant.part_number) == (
        "PUT", "uploads/o1/u1/data", None, None,
    )  # fmt: skip
    assert grant.expires_at == expires_at
    assert expires_at.timestamp() == NOW + 600


def test_part_url_grants_exactly_that_part():
    url = _sign(upload_id="abc_DEF-123", part_number=7)
    grant = verify_local_url(KEY, "PUT", url, now=NOW)
    assert (grant.upload_id, grant.part_number) == ("abc_DEF-123", 7)
    _forbidden("PUT", _with_query(url, part_number=8))
    _forbidden("PUT", _with_query(url, upload_id="other-upload"))


def test_relative_url_and_path_only_verification():
    url, _ = sign_local_url(KEY, "", "PUT", "k/with space/ü", 60, now=NOW)
    assert url.startswith("/v1/blobs/k/with%20space/%C3%BC?")
    assert verify_local_url(KEY, "PUT", url, now=NOW).key == "k/with space/ü"
    # a route behind a path prefix still verifies: the key follows /v1/blobs/
    assert verify_local_url(KEY, "PUT", "http://h/api" + url, now=NOW).key == "k/with space/ü"


def test_tampering_is_forbidden():
    url = _sign()
    _forbidden("PUT", url.replace("/u1/", "/u2/"))  # another object
    _forbidden("GET", url)  # another method
    _forbidden("PUT", _with_query(url, expires=int(NOW) + 99999))  # a longer life
    sig = parse_qs(urlsplit(url).query)["sig"][0]
    _forbidden("PUT", _with_query(url, sig=sig[:-1] + ("0" if sig[-1] != "0" else "1")))
    _forbidden("PUT", _with_query(url, sig="é"))  # non-ASCII must not crash the compare
    _forbidden("PUT", url + "&sig=" + sig)  # a repeated parameter
    _forbidden("PUT", _with_query(url, expires="soon"))
    _forbidden("PUT", url.split("?")[0])  # no signature at all
    _forbidden("PUT", "https://lp.example/v1/other/" + url.split("/v1/blobs/")[1])


def test_signature_of_another_object_is_forbidden():
    mine = _sign("uploads/o1/u1/data")
    theirs = _sign("uploads/o2/u9/data")
    sig = parse_qs(urlsplit(theirs).query)["sig"][0]
    _forbidden("PUT", _with_query(mine, sig=sig))


def test_expired_url_is_forbidden():
    url = _sign(expires_in=60)
    verify_local_url(KEY, "PUT", url, now=NOW + 59)
    with pytest.raises(LakeportError) as err:
        verify_local_url(KEY, "PUT", url, now=NOW + 60)
    assert err.value.code == "forbidden"
    assert "expired" in err.value.message
    assert "expired_at" in err.value.details


def test_another_deployments_key_is_forbidden():
    url = _sign()
    with pytest.raises(LakeportError) as err:
        verify_local_url(b"another-key", "PUT", url, now=NOW)
    assert err.value.code == "forbidden"
    with pytest.raises(LakeportError):
        verify_local_url(b"", "PUT", url, now=NOW)


def test_content_type_is_bound_when_signed():
    url = _sign(content_type="text/csv")
    assert verify_local_url(KEY, "PUT", url, content_type="text/csv", now=NOW).content_type
    _forbidden("PUT", url, content_type="application/json")
    _forbidden("PUT", url)
    _forbidden("PUT", _with_query(url, content_type="application/json"), content_type="x/y")
    unbound = _sign()
    assert verify_local_url(KEY, "PUT", unbound, content_type="any/thing", now=NOW)


@pytest.mark.parametrize(
    ("key", "extra"),
    [
        ("../etc/passwd", {}),
        ("/abs", {}),
        ("ok/key", {"upload_id": "../../x", "part_number": 1}),
        ("ok/key", {"content_type": "text/csv\r\nX-Evil: 1"}),
    ],
)
def test_bad_inputs_are_refused_at_signing(key, extra):
    with pytest.raises(LakeportError) as err:
        _sign(key, **extra)
    assert err.value.code == "bad_request"


def test_store_checks_lifetime_and_needs_a_key(tmp_path):
    store = LocalStore(tmp_path / "s", signing_key=KEY, base_url="http://api:8000/")
    request = store.presign_put("a/b", 60, content_type="text/csv")
    assert request.method == "PUT" and request.headers == {"Content-Type": "text/csv"}
    assert request.url.startswith("http://api:8000/v1/blobs/a/b?")
    grant = store.verify_request("PUT", request.url, content_type="text/csv")
    assert grant.key == "a/b"
    for bad in (0, -5, MAX_EXPIRES_IN + 1):
        with pytest.raises(LakeportError) as err:
            store.presign_put("a/b", bad)
        assert err.value.code == "bad_request"
    keyless = LocalStore(tmp_path / "t")
    with pytest.raises(LakeportError) as err:
        keyless.presign_put("a/b", 60)
    assert err.value.code == "internal_error"
    with pytest.raises(LakeportError) as err:
        keyless.verify_request("PUT", request.url, content_type="text/csv")
    assert err.value.code == "forbidden"
