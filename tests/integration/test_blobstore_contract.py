"""One contract for every BlobStore: the same tests run against ``local`` and ``s3``.

No mocks: the local store writes real files under a temporary directory; the S3 store
talks HTTP to moto's server (moto is the only stand-in, for S3 itself), with fake
credentials and a fresh bucket per test. Backend-specific facts (S3's multipart ETag,
the local store handing out its own file) are asserted in clearly marked branches.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lakeport.config import Settings, StorageSettings
from lakeport.errors import LakeportError, TransientError
from lakeport.storage import BlobNotFound, BlobStore, build_blob_store
from lakeport.storage import s3 as s3_module
from lakeport.storage.local import LocalStore
from lakeport.storage.local_copies import keep_local_copies
from lakeport.storage.s3 import PAGE_SIZE, PART_SIZE, S3Store
from tests.s3server import create_bucket, moto_s3_server, s3_settings

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    with moto_s3_server() as url:
        yield url


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "local":
        settings = Settings(data_dir=tmp_path / "data", signing_secret="test-secret")
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        storage = s3_settings(endpoint, create_bucket(endpoint), prefix="deploy-a")
        settings = Settings(data_dir=tmp_path / "data", storage=storage)
    built = build_blob_store(settings)
    assert built.name == request.param
    yield built
    built.close()


def _write(store: BlobStore, key: str, data: bytes, chunk: int = 1000):
    writer = store.open_write(key)
    for start in range(0, len(data), chunk):
        writer.write(data[start : start + chunk])
    assert writer.bytes_written == len(data)
    return writer.commit()


def _read(store: BlobStore, key: str) -> bytes:
    with store.open_read(key) as reader:
        return reader.read()


def _put_many(store: BlobStore, keys: list[str]) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda k: _write(store, k, k.encode()), keys))


def test_write_stat_read_roundtrip(store):
    data = b"id,name\n" + b"1,alpha\n" * 500
    info = _write(store, "uploads/o1/u1/data", data)
    assert info.key == "uploads/o1/u1/data"
    assert info.size_bytes == len(data)
    assert info.modified_at.tzinfo is not None
    stat = store.stat("uploads/o1/u1/data")
    assert stat is not None
    assert (stat.key, stat.size_bytes, stat.etag) == (info.key, info.size_bytes, info.etag)
    assert _read(store, "uploads/o1/u1/data") == data


def test_etag_is_md5_for_single_put(store, tmp_path):
    data = os.urandom(123_456)
    info = _write(store, "k/small", data)
    assert info.etag == hashlib.md5(data).hexdigest()
    source = tmp_path / "source.bin"
    source.write_bytes(data[:1000])
    put = store.put_file("k/from-file", source)
    assert put.etag == hashlib.md5(data[:1000]).hexdigest()
    assert put.size_bytes == 1000
    assert source.read_bytes() == data[:1000]  # the source is left alone


def test_empty_object(store):
    info = _write(store, "k/empty", b"")
    assert info.size_bytes == 0
    assert info.etag == hashlib.md5(b"").hexdigest()
    assert _read(store, "k/empty") == b""


def test_large_streamed_write_reads_back_identical(store):
    block = os.urandom(MIB)
    writer = store.open_write("big/data")
    expected = hashlib.sha256()
    for i in range(20):  # 20 MiB in 1 MiB writes: on S3, three multipart parts
        piece = bytes([i]) + block[1:]
        writer.write(piece)
        expected.update(piece)
    info = writer.commit()
    assert info.size_bytes == 20 * MIB
    got = hashlib.sha256()
    with store.open_read("big/data") as reader:
        while chunk := reader.read(3 * MIB + 17):
            got.update(chunk)
    assert got.hexdigest() == expected.hexdigest()
    if store.name == "s3":  # multipart ETag: "<md5 of part md5s>-<parts>"
        assert PART_SIZE == 8 * MIB and info.etag.endswith("-3")
    else:
        assert len(info.etag) == 32


def test_overwrite_replaces_the_object(store):
    _write(store, "k/v", b"first version")
    info = _write(store, "k/v", b"second")
    assert _read(store, "k/v") == b"second"
    stat = store.stat("k/v")
    assert stat is not None and stat.etag == info.etag == hashlib.md5(b"second").hexdigest()


@pytest.mark.parametrize("size", [1000, 10 * MIB])
def test_abort_leaves_nothing(store, size):
    writer = store.open_write("aborted/data")
    for _ in range(0, size, MIB):
        writer.write(os.urandom(min(MIB, size)))
    writer.abort()
    writer.abort()  # idempotent
    with pytest.raises(RuntimeError):
        writer.write(b"more")
    assert store.stat("aborted/data") is None
    assert list(store.list("")) == []
    if isinstance(store, S3Store):  # the multipart upload itself is gone too
        uploads = store.client.list_multipart_uploads(Bucket=store.bucket)
        assert uploads.get("Uploads", []) == []
    else:
        assert isinstance(store, LocalStore)
        assert [p for p in store.root.rglob("*") if p.is_file()] == []


def test_abort_after_commit_keeps_the_object(store):
    writer = store.open_write("k/kept")
    writer.write(b"kept")
    writer.commit()
    writer.abort()
    assert _read(store, "k/kept") == b"kept"


def test_delete_is_idempotent(store):
    _write(store, "d/one", b"1")
    store.delete("d/one")
    assert store.stat("d/one") is None
    store.delete("d/one")
    store.delete("never/existed")
    assert list(store.list("d/")) == []


def test_delete_prefix(store):
    for key in ["p/a/1", "p/a/2", "p/a/deep/3", "p/ab", "p/b/1", "q/1"]:
        _write(store, key, key.encode())
    assert store.delete_prefix("p/a/") == 3
    assert [i.key for i in store.list("")] == ["p/ab", "p/b/1", "q/1"]
    assert store.delete_prefix("p/a") == 1  # a plain string prefix, like S3's
    assert store.delete_prefix("p/a") == 0
    assert [i.key for i in store.list("")] == ["p/b/1", "q/1"]
    with pytest.raises(LakeportError) as err:
        store.delete_prefix("")
    assert err.value.code == "bad_request"


@pytest.mark.slow
def test_list_pagination_order_and_start_after(store):
    count = PAGE_SIZE + 5 if store.name == "s3" else 40
    keys = sorted(f"many/{i:05d}" for i in range(count))
    _put_many(store, [*keys, "other/x"])
    listed = store.list("many/")
    assert [i.key for i in listed] == keys  # across pages on S3 (> 1000 keys)
    first = next(iter(store.list("many/")))
    assert first.size_bytes == len(b"many/00000")
    assert first.etag == hashlib.md5(b"many/00000").hexdigest()
    middle = keys[count // 2]
    assert [i.key for i in store.list("many/", start_after=middle)] == keys[count // 2 + 1 :]
    assert [i.key for i in store.list("many/0000", start_after="many/00003")] == keys[4:10]
    assert list(store.list("many/", start_after=keys[-1])) == []
    assert list(store.list("nothing-here/")) == []


def test_list_order_matches_s3_for_separator_edge_cases(store):
    # '-' (0x2d) < '/' (0x2f) < '0' (0x30): S3 orders by key bytes, not by directory.
    for key in ["x/b", "x/a0", "x/a/c/d", "x/a/bb", "x/a/b", "x/a-c"]:
        _write(store, key, b"v")
    expected = ["x/a-c", "x/a/b", "x/a/bb", "x/a/c/d", "x/a0", "x/b"]
    assert [i.key for i in store.list("x/")] == expected
    assert [i.key for i in store.list("x/", start_after="x/a/bb")] == expected[3:]
    assert [i.key for i in store.list("x/a/")] == expected[1:4]


def test_fetch_local(store):
    data = os.urandom(50_000)
    _write(store, "f/data", data)
    with store.fetch_local("f/data") as path:
        assert path.read_bytes() == data
        if isinstance(store, LocalStore):  # the stored file itself, no copy
            assert path == store.root / "f" / "data"
    if isinstance(store, S3Store):  # the temporary download is gone
        assert not path.exists() and not path.parent.exists()
    with pytest.raises(BlobNotFound), store.fetch_local("f/missing"):
        pass


@pytest.mark.parametrize("size", [0, 5_000, 3 * MIB + 7])
def test_fetch_local_of_any_size(store, size, monkeypatch):
    """S3 fetches up to ``SINGLE_GET_BYTES`` with one ranged GET (an empty object answers
    416) and larger ones with boto3's download; 2 MiB here puts 3 MiB in the latter."""
    monkeypatch.setattr(s3_module, "SINGLE_GET_BYTES", 2 * MIB)
    data = os.urandom(size)
    _write(store, f"sized/{size}", data)
    with store.fetch_local(f"sized/{size}") as path:
        assert path.read_bytes() == data


def test_fetch_local_keeps_one_download_per_job(store):
    """Inside ``keep_local_copies`` (one pipeline job) later fetches of an object get the
    first download, even after the object changed; the copies go when the block ends."""
    _write(store, "job/data", b"first")
    with keep_local_copies():
        with store.fetch_local("job/data") as first:
            assert first.read_bytes() == b"first"
        assert first.exists()  # kept past its own block
        _write(store, "job/data", b"second")
        with store.fetch_local("job/data") as again:
            expected = b"second" if isinstance(store, LocalStore) else b"first"
            assert again.read_bytes() == expected
        if isinstance(store, S3Store):
            assert again == first
    if isinstance(store, S3Store):
        assert not first.exists() and not first.parent.exists()


def test_missing_objects(store):
    assert store.stat("no/such/key") is None
    with pytest.raises(BlobNotFound) as err, store.open_read("no/such/key"):
        pass
    assert err.value.code == "not_found"
    assert "no/such" not in err.value.message  # keys never reach user-facing messages


BAD_KEYS = [
    "",
    "../escape",
    "a/../../escape",
    "a/./b",
    "/etc/passwd",
    "C:/windows",
    "a\\..\\b",
    "a\x00b",
    "a//b",
    "dir/",
    ".lakeport/meta/x",
    "a/.lakeport-tmp-1",
    "x" * 1025,
]


def test_path_trick_keys_are_rejected(store, tmp_path):
    source = tmp_path / "f"
    source.write_bytes(b"x")
    calls = [
        store.open_write,
        lambda k: store.put_file(k, source),
        store.stat,
        store.delete,
        lambda k: store.open_read(k).__enter__(),
        lambda k: store.fetch_local(k).__enter__(),
    ]
    for key in BAD_KEYS:
        for call in calls:
            with pytest.raises(LakeportError) as err:
                call(key)
            assert err.value.code == "bad_request", key
    for prefix in ("../", "/abs/", "a//", "a\\b/"):
        with pytest.raises(LakeportError) as err:
            list(store.list(prefix))
        assert err.value.code == "bad_request", prefix
    assert list(store.list("")) == []
    if isinstance(store, LocalStore):  # nothing was created anywhere near the root
        assert list(store.root.parent.rglob("escape")) == []


def test_ping(store):
    store.ping()


def test_ping_reports_unreachable_storage_as_transient(tmp_path):
    local = LocalStore(tmp_path / "root")
    local.root.rmdir()
    with pytest.raises(TransientError) as err:
        local.ping()
    assert err.value.code == "storage_error"

    closed = StorageSettings(
        backend="s3",
        endpoint_url="http://127.0.0.1:9",  # discard port: nothing listens
        access_key_id="fake",
        secret_access_key="fake",
    )
    s3 = S3Store(closed)
    try:
        with pytest.raises(TransientError) as err:
            s3.ping()
        assert err.value.code == "storage_error"
    finally:
        s3.close()


def test_local_etag_cache_is_rechecked_against_the_file(tmp_path):
    # Backend-specific: the local ETag lives in a sidecar cache; an out-of-band edit or a
    # lost sidecar must never yield a stale ETag.
    store = LocalStore(tmp_path / "root")
    _write(store, "k/v", b"original")
    path = store.root / "k" / "v"
    path.write_bytes(b"edited by hand!")
    stat = store.stat("k/v")
    assert stat is not None and stat.etag == hashlib.md5(b"edited by hand!").hexdigest()
    for sidecar in (store.root / ".lakeport" / "meta").rglob("*.json"):
        sidecar.unlink()
    [listed] = store.list("k/")
    assert listed.etag == hashlib.md5(b"edited by hand!").hexdigest()


def test_local_write_is_private_and_atomic(tmp_path):
    store = LocalStore(tmp_path / "root")
    writer = store.open_write("a/b")
    writer.write(b"half")
    assert store.stat("a/b") is None  # invisible until commit
    assert list(store.list("")) == []  # the temporary file is not an object
    writer.commit()
    assert (store.root / "a" / "b").stat().st_mode & 0o077 == 0
    store.delete("a/b")
    assert list(store.root.iterdir()) == [store.root / ".lakeport"]  # empty dirs pruned


def test_s3_refusals_are_transient_and_a_failed_write_cannot_commit(s3_endpoint):
    store = S3Store(s3_settings(s3_endpoint, "no-such-bucket-here"))
    try:
        with pytest.raises(TransientError) as err:
            list(store.list(""))
        assert err.value.code == "storage_error" and "NoSuchBucket" in err.value.message
        with pytest.raises(TransientError):
            store.ping()
        writer = store.open_write("k/big")
        with pytest.raises(TransientError):
            writer.write(os.urandom(PART_SIZE))  # the first part cannot be sent
        with pytest.raises(RuntimeError):
            writer.commit()
        writer.abort()
    finally:
        store.close()
