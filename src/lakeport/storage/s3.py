"""S3Store: the landing zone in an S3 bucket (AWS S3, MinIO, R2, moto … via boto3).

Key layout: object ``<prefix><key>`` in ``settings.storage.bucket``, where ``<prefix>`` is
``settings.storage.prefix`` normalised to end with ``/`` (or empty), so several
deployments can share one bucket. Keys reported back (``list``, ``BlobInfo.key``) have
the prefix stripped. Only ``storage/`` may import boto3.

Permissions: the credentials need ``s3:GetObject``, ``PutObject``, ``DeleteObject``,
``ListBucket``, ``AbortMultipartUpload``, ``ListMultipartUploadParts`` (and
``ListBucketMultipartUploads`` for operators' cleanup) on the bucket/prefix. Nothing is
made public; clients reach objects only through presigned URLs, signed for
``public_endpoint_url`` when it differs from the service's endpoint.

Consistency: S3 is strongly read-after-write consistent; a streamed write is invisible
until ``commit`` (a single PUT below one part, else a completed multipart upload). A
crash mid-write leaves an incomplete multipart upload that costs storage until aborted:
give the bucket a lifecycle rule ``AbortIncompleteMultipartUpload`` (e.g. 7 days).
ETags are S3's: the MD5 hex for single-PUT objects, ``<hex>-<n>`` for multipart ones.

Errors: a missing key is ``None`` (stat), a no-op (delete) or :class:`BlobNotFound`
(reads). HEAD answers carry no error body, so ``stat`` cannot tell a missing key from a
missing bucket; ``ping`` (the readiness probe) is what catches the latter. Every other
failure, connection problems and refusals alike, becomes ``TransientError
("storage_error")``: it is the operator's storage, not the user's file, that is wrong,
so the job should retry rather than fail the upload for good. (Multipart completion is
the exception: a bad part list is the caller's ``bad_request``, see s3_uploads.)
"""

from __future__ import annotations

import builtins
import io
import logging
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lakeport.config import StorageSettings
from lakeport.errors import TransientError
from lakeport.storage.base import BlobInfo, BlobNotFound, validate_key, validate_prefix
from lakeport.storage.capabilities import PartInfo, PresignedRequest
from lakeport.storage.local_copies import keep, kept_copy

if TYPE_CHECKING:
    from lakeport.storage.s3_uploads import S3Uploads

logger = logging.getLogger(__name__)

#: Size of each multipart part a streamed write sends (and of its memory buffer).
PART_SIZE = 8 * 1024 * 1024
#: Keys per ListObjectsV2 page (S3's maximum) and per DeleteObjects batch.
PAGE_SIZE = 1000
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_CHUNK = 1024 * 1024
#: Objects up to this size are downloaded with one GET (see ``S3Store._download``).
SINGLE_GET_BYTES = 8 * 1024 * 1024


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def error_code(exc: BaseException) -> str | None:
    """The S3 error code behind a translated error (or a ClientError), if any."""
    cause = exc if isinstance(exc, ClientError) else exc.__cause__
    return _error_code(cause) if isinstance(cause, ClientError) else None


def _is_missing(exc: ClientError) -> bool:
    return _error_code(exc) in _MISSING


@contextmanager
def storage_errors(action: str) -> Iterator[None]:
    """Turn botocore failures inside the block into ``TransientError("storage_error")``."""
    try:
        yield
    except ClientError as exc:
        raise TransientError(
            "storage_error",
            f"object storage refused {action} ({_error_code(exc) or 'unknown error'}); "
            "check the storage settings or retry later",
        ) from exc
    except BotoCoreError as exc:
        raise TransientError(
            "storage_error",
            f"object storage unreachable during {action} ({type(exc).__name__}); retry later",
        ) from exc


def make_client(cfg: StorageSettings, endpoint_url: str | None) -> Any:
    """An S3 client for ``endpoint_url`` (None: AWS), with path-style addressing when an
    endpoint is given (MinIO & co. rarely have wildcard DNS for bucket subdomains).

    Checksums are computed only when an operation requires them: boto3's newer default
    (always send CRC32) breaks several S3-compatible servers and presigned uploads.
    """
    config = Config(
        region_name=cfg.region,
        signature_version="s3v4",
        s3={"addressing_style": "path" if endpoint_url else "auto"},
        retries={"mode": "standard", "max_attempts": 4},
        connect_timeout=5,
        read_timeout=60,
        max_pool_connections=32,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    secret = cfg.secret_access_key.get_secret_value() if cfg.secret_access_key else None
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=cfg.access_key_id,
        aws_secret_access_key=secret,
        config=config,
    )


def _unquote(etag: str) -> str:
    return etag.strip('"')


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class _BodyStream(io.RawIOBase):
    """A botocore StreamingBody as a raw stream, so it can be wrapped in BufferedReader."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with storage_errors("read"):
            data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Writer:
    """A streamed write: single PUT when small, else multipart with ``PART_SIZE`` parts.

    At most one part is buffered in memory at a time.
    """

    def __init__(self, store: S3Store, key: str) -> None:
        self._store = store
        self._key = key
        self._full = store.full_key(key)
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._written = 0
        self._state = "open"

    @property
    def bytes_written(self) -> int:
        """Bytes accepted so far."""
        return self._written

    def write(self, data: bytes) -> None:
        """Buffer ``data``, sending a part each time the buffer reaches ``PART_SIZE``."""
        if self._state != "open":
            raise RuntimeError(f"write after {self._state}")
        view = memoryview(data)
        try:
            while view:
                room = PART_SIZE - len(self._buffer)
                self._buffer += view[:room]
                view = view[room:]
                if len(self._buffer) >= PART_SIZE:
                    self._send_part()
        except BaseException:
            self._state = "failed"  # a lost part must not be committed later
            raise
        self._written += len(data)

    def _send_part(self) -> None:
        client, bucket = self._store.client, self._store.bucket
        with storage_errors("multipart upload"):
            if self._upload_id is None:
                created = client.create_multipart_upload(Bucket=bucket, Key=self._full)
                self._upload_id = str(created["UploadId"])
            number = len(self._parts) + 1
            body, self._buffer = self._buffer, bytearray()  # handed over, not copied
            sent = client.upload_part(
                Bucket=bucket, Key=self._full, UploadId=self._upload_id,
                PartNumber=number, Body=body,
            )  # fmt: skip
        self._parts.append({"PartNumber": number, "ETag": sent["ETag"]})

    def commit(self) -> BlobInfo:
        """Publish the object (PUT or CompleteMultipartUpload) and return its info."""
        if self._state != "open":
            raise RuntimeError(f"commit after {self._state}")
        try:
            self._finish()
        except BaseException:
            self.abort()
            raise
        self._state = "committed"
        info = self._store.stat(self._key)
        if info is None:
            raise TransientError("storage_error", "the object vanished right after its write")
        return info

    def _finish(self) -> None:
        client, bucket = self._store.client, self._store.bucket
        if self._upload_id is None:
            with storage_errors("write"):
                client.put_object(Bucket=bucket, Key=self._full, Body=self._buffer)
            self._buffer = bytearray()
            return
        if self._buffer:
            self._send_part()
        with storage_errors("multipart completion"):
            client.complete_multipart_upload(
                Bucket=bucket, Key=self._full, UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )  # fmt: skip

    def abort(self) -> None:
        """Drop the buffer and abort the multipart upload; never raises (it runs in
        error paths, where masking the first error would hide the cause)."""
        if self._state in ("committed", "aborted"):
            return
        self._state = "aborted"
        self._buffer = bytearray()
        if self._upload_id is not None:
            try:
                self._store.abort_upload_quietly(self._full, self._upload_id)
            except Exception:  # a lifecycle rule reclaims what this leaves
                logger.warning("could not abort multipart upload of %s", self._full)


class S3Store:
    """A :class:`~lakeport.storage.base.BlobStore` on an S3 bucket."""

    name: str = "s3"

    def __init__(self, cfg: StorageSettings, *, scratch_dir: Path | None = None) -> None:
        """``scratch_dir`` holds ``fetch_local`` downloads (default: the system temp dir,
        which may be a small tmpfs; pass a directory on a disk sized for uploads)."""
        self.bucket = cfg.bucket
        self.prefix = validate_prefix(cfg.prefix.strip("/") + "/") if cfg.prefix.strip("/") else ""
        self.client = make_client(cfg, cfg.endpoint_url)
        self._cfg = cfg
        self._scratch = scratch_dir
        self._signer: Any = None
        self._uploads_impl: S3Uploads | None = None

    def full_key(self, key: str) -> str:
        """The bucket key for ``key`` (validated, with the deployment prefix)."""
        return self.prefix + validate_key(key)

    def abort_upload_quietly(self, full_key: str, upload_id: str) -> None:
        """Abort a multipart upload by bucket key; an unknown upload is fine."""
        try:
            with storage_errors("multipart abort"):
                self.client.abort_multipart_upload(
                    Bucket=self.bucket, Key=full_key, UploadId=upload_id
                )
        except TransientError as exc:
            if error_code(exc) in ("NoSuchUpload", "404"):
                return
            raise

    def open_write(self, key: str) -> S3Writer:
        """Start a streamed write of ``key``."""
        return S3Writer(self, key)

    def put_file(self, key: str, path: Path) -> BlobInfo:
        """Upload the file at ``path`` through a streamed write (same ETag rules)."""
        writer = self.open_write(key)
        try:
            with Path(path).open("rb") as source:
                while chunk := source.read(_CHUNK):
                    writer.write(chunk)
            return writer.commit()
        finally:
            writer.abort()

    def stat(self, key: str) -> BlobInfo | None:
        """HeadObject: size, ETag and LastModified, or None when missing."""
        full = self.full_key(key)
        with storage_errors("stat"):
            try:
                head = self.client.head_object(Bucket=self.bucket, Key=full)
            except ClientError as exc:
                if _is_missing(exc):
                    return None
                raise
        return BlobInfo(
            key, int(head["ContentLength"]), _unquote(head["ETag"]), _aware(head["LastModified"])
        )

    @contextmanager
    def open_read(self, key: str) -> Iterator[BinaryIO]:
        """GetObject, streamed through a buffered reader."""
        full = self.full_key(key)
        with storage_errors("read"):
            try:
                got = self.client.get_object(Bucket=self.bucket, Key=full)
            except ClientError as exc:
                if _is_missing(exc):
                    raise BlobNotFound(key) from None
                raise
        with io.BufferedReader(_BodyStream(got["Body"]), buffer_size=_CHUNK) as reader:
            yield reader

    @contextmanager
    def fetch_local(self, key: str) -> Iterator[Path]:
        """Download to a private temporary directory, removed on exit (or kept for the
        rest of the job inside :func:`~lakeport.storage.local_copies.keep_local_copies`)."""
        full = self.full_key(key)
        identity = (str(self._cfg.endpoint_url), self.bucket, full)
        kept = kept_copy(identity)
        if kept is not None:
            yield kept
            return
        if self._scratch is not None:
            self._scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory = Path(tempfile.mkdtemp(prefix="lakeport-fetch-", dir=self._scratch))
        owned = False
        try:
            target = directory / key.rsplit("/", 1)[-1]
            with storage_errors("download"):
                try:
                    self._download(full, target)
                except ClientError as exc:
                    if _is_missing(exc):
                        raise BlobNotFound(key) from None
                    raise
            owned = keep(identity, target)
            yield target
        finally:
            if not owned:
                shutil.rmtree(directory, ignore_errors=True)

    def _download(self, full: str, target: Path) -> None:
        """One ranged GET for an object up to :data:`SINGLE_GET_BYTES` (most source
        files); larger ones go through boto3's parallel ranged download, which costs a
        HEAD and several GETs but is the faster for big objects."""
        try:
            got = self.client.get_object(
                Bucket=self.bucket, Key=full, Range=f"bytes=0-{SINGLE_GET_BYTES - 1}"
            )
        except ClientError as exc:
            if _error_code(exc) != "InvalidRange":
                raise
            target.write_bytes(b"")  # S3 answers a range on an empty object with 416
            return
        body = got["Body"]
        total = int(str(got.get("ContentRange", "")).rpartition("/")[2] or got["ContentLength"])
        if total > SINGLE_GET_BYTES:
            body.close()
            self.client.download_file(self.bucket, full, str(target))
            return
        with body, target.open("wb") as out:
            for chunk in body.iter_chunks(_CHUNK):
                out.write(chunk)

    def delete(self, key: str) -> None:
        """DeleteObject (S3 itself treats a missing key as success)."""
        full = self.full_key(key)
        with storage_errors("delete"):
            self.client.delete_object(Bucket=self.bucket, Key=full)

    def delete_prefix(self, prefix: str) -> int:
        """Delete everything under ``prefix`` (not empty) in batches of ``PAGE_SIZE``."""
        validate_prefix(prefix, allow_empty=False)
        count = 0
        batch: list[str] = []
        for info in self.list(prefix):
            batch.append(self.prefix + info.key)
            if len(batch) == PAGE_SIZE:
                count += self._delete_batch(batch)
                batch = []
        if batch:
            count += self._delete_batch(batch)
        return count

    def _delete_batch(self, keys: list[str]) -> int:
        objects = [{"Key": k} for k in keys]
        with storage_errors("delete"):
            result = self.client.delete_objects(
                Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
            )
        errors = result.get("Errors", [])
        if errors:
            raise TransientError(
                "storage_error",
                f"object storage refused to delete {len(errors)} of {len(keys)} objects "
                f"({errors[0].get('Code', 'unknown error')}); retry later",
            )
        return len(keys)

    def list(self, prefix: str, start_after: str | None = None) -> Iterator[BlobInfo]:
        """ListObjectsV2 pages of ``PAGE_SIZE``, fetched lazily (one page in memory)."""
        validate_prefix(prefix)
        after = start_after or None
        while True:
            page = self._list_page(prefix, after)
            contents = page.get("Contents", [])
            for obj in contents:
                key = str(obj["Key"])[len(self.prefix) :]
                yield BlobInfo(
                    key, int(obj["Size"]), _unquote(obj["ETag"]), _aware(obj["LastModified"])
                )
            if not page.get("IsTruncated") or not contents:
                return
            after = str(contents[-1]["Key"])[len(self.prefix) :]

    def _list_page(self, prefix: str, after: str | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "Bucket": self.bucket, "Prefix": self.prefix + prefix, "MaxKeys": PAGE_SIZE,
        }  # fmt: skip
        if after is not None:
            kwargs["StartAfter"] = self.prefix + after
        with storage_errors("list"):
            page: dict[str, Any] = self.client.list_objects_v2(**kwargs)
        return page

    def ping(self) -> None:
        """HeadBucket: the endpoint answers and the bucket is reachable with our keys."""
        with storage_errors("ping"):
            self.client.head_bucket(Bucket=self.bucket)

    def close(self) -> None:
        """Close the clients' connection pools."""
        self.client.close()
        if self._signer is not None and self._signer is not self.client:
            self._signer.close()

    # -- presigned PUT and multipart (capabilities, in s3_uploads) --------------------

    @property
    def _uploads(self) -> S3Uploads:
        if self._uploads_impl is None:
            from lakeport.storage.s3_uploads import S3Uploads

            public = self._cfg.public_endpoint_url
            if public and public != self._cfg.endpoint_url:
                self._signer = make_client(self._cfg, public)
            else:
                self._signer = self.client
            self._uploads_impl = S3Uploads(self, self._signer)
        return self._uploads_impl

    def presign_put(
        self, key: str, expires_in: int, content_type: str | None = None
    ) -> PresignedRequest:
        """A presigned PutObject URL for the public endpoint."""
        return self._uploads.presign_put(key, expires_in, content_type)

    def create_multipart(self, key: str) -> str:
        """CreateMultipartUpload; returns S3's upload id."""
        return self._uploads.create(key)

    def presign_part(self, key: str, upload_id: str, part_number: int, expires_in: int) -> str:
        """A presigned UploadPart URL for the public endpoint."""
        return self._uploads.presign_part(key, upload_id, part_number, expires_in)

    def list_parts(self, key: str, upload_id: str) -> builtins.list[PartInfo]:
        """The parts S3 holds for the upload."""
        return self._uploads.list_parts(key, upload_id)

    def complete_multipart(
        self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> BlobInfo:
        """Check the part list, then CompleteMultipartUpload."""
        return self._uploads.complete(key, upload_id, parts)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        """AbortMultipartUpload; unknown uploads are fine."""
        self._uploads.abort(key, upload_id)
