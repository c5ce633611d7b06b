"""Presigned PUT and presigned multipart uploads, end to end, on both backends.

S3: the test PUTs bytes with httpx to the URLs S3Store signs, over HTTP to moto's
server (moto is the only stand-in, for S3 itself), signed for a *public* endpoint
(``localhost``) that differs from the one the service uses (``127.0.0.1``).
Local: the ``/v1/blobs`` route is not part of storage, so the test does what that route
does: verify the signed URL with the store, then hand it the body. Everything else
(staging, ETags, completion, abort) is the real code on real files.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from lakeport.config import Settings
from lakeport.errors import LakeportError
from lakeport.storage import SupportsMultipart, SupportsPresign, build_blob_store
from lakeport.storage.capabilities import MIN_PART_SIZE
from lakeport.storage.local import LocalStore
from lakeport.storage.s3 import S3Store
from tests.s3server import create_bucket, moto_s3_server, s3_settings

KEY = "uploads/org1/up1/data"


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3_server() as url:
        yield url


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LocalStore | S3Store]:
    if request.param == "local":
        settings = Settings(data_dir=tmp_path / "data", signing_secret="test-secret")
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        public = endpoint.replace("127.0.0.1", "localhost")
        storage = s3_settings(
            endpoint, create_bucket(endpoint), prefix="tenant-x", public_endpoint_url=public
        )
        settings = Settings(data_dir=tmp_path / "data", storage=storage)
    built = build_blob_store(settings)
    assert isinstance(built, SupportsPresign) and isinstance(built, SupportsMultipart)
    assert isinstance(built, LocalStore | S3Store)
    yield built
    built.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def _put(store, http, url, data, headers=None) -> str:
    """Send ``data`` to a signed URL the way a client would; returns the ETag header."""
    if isinstance(store, S3Store):
        response = http.put(url, content=data, headers=headers or {})
        assert response.status_code == 200, response.text
        return response.headers["ETag"]
    content_type = (headers or {}).get("Content-Type")
    grant = store.verify_request("PUT", url, content_type=content_type)  # the route's check
    chunks = (data[i : i + 65536] for i in range(0, len(data), 65536))
    if grant.upload_id is None:
        return f'"{store.write_presigned_object(grant.key, chunks).etag}"'
    assert grant.part_number is not None
    return store.write_part(grant.key, grant.upload_id, grant.part_number, chunks).etag


def _read(store, key):
    with store.open_read(key) as reader:
        return reader.read()


def _no_uploads_left(store):
    if isinstance(store, S3Store):
        return store.client.list_multipart_uploads(Bucket=store.bucket).get("Uploads", []) == []
    staging = store.root / ".lakeport" / "multipart"
    return not staging.exists() or list(staging.iterdir()) == []


def _md5q(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def test_presigned_put_roundtrip(store, http):
    data = b"a,b\n1,2\n" * 1000
    request = store.presign_put(KEY, 300, content_type="text/csv")
    assert request.method == "PUT"
    assert request.headers == {"Content-Type": "text/csv"}
    if isinstance(store, S3Store):  # signed for the public endpoint, not the internal one
        assert request.url.startswith(store._cfg.public_endpoint_url + "/")
        assert "X-Amz-Signature=" in request.url
    else:
        assert "/v1/blobs/uploads/org1/up1/data?" in request.url
    etag = _put(store, http, request.url, data, request.headers)
    assert etag == _md5q(data)
    info = store.stat(KEY)
    assert info is not None and info.size_bytes == len(data)
    assert info.etag == hashlib.md5(data).hexdigest()
    assert _read(store, KEY) == data


def _upload_parts(store, http, upload_id, parts: dict[int, bytes]) -> dict[int, str]:
    urls = {n: store.presign_part(KEY, upload_id, n, 300) for n in parts}
    with ThreadPoolExecutor(max_workers=4) as pool:  # parallel and out of order
        etags = pool.map(lambda n: (n, _put(store, http, urls[n], parts[n])), sorted(parts)[::-1])
        return dict(etags)


def test_multipart_roundtrip(store, http):
    parts = {1: os.urandom(MIN_PART_SIZE), 2: os.urandom(MIN_PART_SIZE + 3), 3: b"tail" * 100}
    upload_id = store.create_multipart(KEY)
    etags = _upload_parts(store, http, upload_id, parts)
    assert etags == {n: _md5q(b) for n, b in parts.items()}
    listed = store.list_parts(KEY, upload_id)
    assert [(p.part_number, p.etag, p.size_bytes) for p in listed] == [
        (n, _md5q(parts[n]), len(parts[n])) for n in (1, 2, 3)
    ]
    assert store.stat(KEY) is None  # nothing visible before completion
    info = store.complete_multipart(KEY, upload_id, sorted(etags.items()))
    whole = parts[1] + parts[2] + parts[3]
    assert info.size_bytes == len(whole)
    assert _read(store, KEY) == whole
    assert _no_uploads_left(store)
    if isinstance(store, S3Store):
        assert info.etag.endswith("-3")
    else:
        assert info.etag == hashlib.md5(whole).hexdigest()


def test_reuploading_a_part_replaces_it(store, http):
    upload_id = store.create_multipart(KEY)
    _upload_parts(store, http, upload_id, {1: b"first try"})
    etags = _upload_parts(store, http, upload_id, {1: b"second try!"})
    assert [(p.etag, p.size_bytes) for p in store.list_parts(KEY, upload_id)] == [
        (_md5q(b"second try!"), 11)
    ]
    store.complete_multipart(KEY, upload_id, [(1, etags[1])])
    assert _read(store, KEY) == b"second try!"


def _bad_completion(store, upload_id, parts) -> LakeportError:
    with pytest.raises(LakeportError) as err:
        store.complete_multipart(KEY, upload_id, parts)
    assert err.value.code == "bad_request"
    return err.value


def test_bad_completions_name_the_part(store, http):
    parts = {1: os.urandom(MIN_PART_SIZE), 2: os.urandom(1000), 3: b"end"}
    upload_id = store.create_multipart(KEY)
    etags = _upload_parts(store, http, upload_id, parts)
    good = sorted(etags.items())

    wrong = _bad_completion(store, upload_id, [good[0], (2, _md5q(b"other")), good[2]])
    assert wrong.details == {"part_number": 2} and "part 2" in wrong.message
    missing = _bad_completion(store, upload_id, [good[0], (4, _md5q(b"x"))])
    assert missing.details == {"part_number": 4} and "never uploaded" in missing.message
    small = _bad_completion(store, upload_id, good)  # part 2 is < 5 MiB and not last
    assert small.details == {"part_number": 2} and "smaller" in small.message
    order = _bad_completion(store, upload_id, [good[0], good[0]])  # listed twice
    assert order.details == {"part_number": 1}
    assert _bad_completion(store, upload_id, []).message

    assert store.stat(KEY) is None  # failed completions publish nothing
    info = store.complete_multipart(KEY, upload_id, [good[0], good[1]])  # 1 + last
    assert _read(store, KEY) == parts[1] + parts[2]
    assert info.size_bytes == MIN_PART_SIZE + 1000


def test_abort_is_idempotent_and_leaves_nothing(store, http):
    upload_id = store.create_multipart(KEY)
    _upload_parts(store, http, upload_id, {1: b"doomed"})
    store.abort_multipart(KEY, upload_id)
    store.abort_multipart(KEY, upload_id)
    assert _no_uploads_left(store)
    assert store.stat(KEY) is None
    with pytest.raises(LakeportError) as err:
        store.list_parts(KEY, upload_id)
    assert err.value.code == "not_found"
    with pytest.raises(LakeportError) as err:
        store.complete_multipart(KEY, upload_id, [(1, _md5q(b"doomed"))])
    assert err.value.code == "not_found"


def test_part_numbers_and_lifetimes_are_checked(store):
    upload_id = store.create_multipart(KEY)
    for number in (0, 10_001):
        with pytest.raises(LakeportError) as err:
            store.presign_part(KEY, upload_id, number, 60)
        assert err.value.code == "bad_request"
    with pytest.raises(LakeportError) as err:
        store.presign_put(KEY, 8 * 24 * 3600)
    assert err.value.code == "bad_request"
    with pytest.raises(LakeportError) as err:
        store.presign_put("../escape", 60)
    assert err.value.code == "bad_request"
    store.abort_multipart(KEY, upload_id)


def test_local_urls_are_bound_to_their_part_and_upload(tmp_path):
    store = LocalStore(tmp_path / "root", signing_key=b"k")
    first = store.create_multipart(KEY)
    second = store.create_multipart(KEY)
    url = store.presign_part(KEY, first, 1, 60)
    with pytest.raises(LakeportError) as err:
        store.verify_request("PUT", url.replace(first, second))
    assert err.value.code == "forbidden"
    with pytest.raises(LakeportError) as err:
        store.verify_request("PUT", url.replace("part_number=1", "part_number=2"))
    assert err.value.code == "forbidden"
    with pytest.raises(LakeportError) as err:  # an upload belongs to the key it was made for
        store.write_part("uploads/org2/up1/data", first, 1, [b"x"])
    assert err.value.code == "not_found"
    with pytest.raises(LakeportError) as err:
        store.write_part(KEY, "../../etc", 1, [b"x"])
    assert err.value.code == "bad_request"
    with pytest.raises(LakeportError) as err:  # a body past the declared size is cut off
        store.write_part(KEY, first, 1, [b"x" * 10, b"y" * 10], max_bytes=15)
    assert err.value.code == "payload_too_large"
    assert store.list_parts(KEY, first) == []
    with pytest.raises(LakeportError) as err:
        store.write_presigned_object(KEY, [b"x" * 10, b"y" * 10], max_bytes=15)
    assert err.value.code == "payload_too_large"
    assert store.stat(KEY) is None
    assert list(store.list("")) == []  # staging never shows up as objects
