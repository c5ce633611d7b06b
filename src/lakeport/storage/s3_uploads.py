"""Presigned PUT and presigned multipart uploads for :class:`~lakeport.storage.s3.S3Store`.

URLs are real S3 presigned URLs (SigV4, query-string auth), signed by a second boto3
client configured with ``public_endpoint_url`` when one is set: the host is part of the
signature, so a URL must be signed for the address the *client* will use (e.g.
``https://s3.example.com``), not the one the service uses (``http://minio:9000``). That
client never sends a request. Clients PUT parts straight to S3 and read the ``ETag``
response header (the bucket's CORS rules must expose it for browsers); the service
checks the list against ``ListParts`` before completing, so an error names the part.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from lakeport.errors import LakeportError, TransientError
from lakeport.storage.base import BlobInfo
from lakeport.storage.capabilities import (
    PartInfo,
    PresignedRequest,
    check_completion,
    check_expires_in,
    check_part_number,
    quote_etag,
)
from lakeport.storage.s3 import error_code, storage_errors

if TYPE_CHECKING:
    from lakeport.storage.s3 import S3Store

#: S3 error codes that mean the caller's part list is wrong, not the storage.
_BAD_PARTS = frozenset({"InvalidPart", "InvalidPartOrder", "EntityTooSmall"})


def _upload_missing() -> LakeportError:
    return LakeportError(
        "not_found", "multipart upload not found (it may have been completed or aborted)"
    )


class S3Uploads:
    """The presign/multipart half of an S3Store (kept apart to keep modules small)."""

    def __init__(self, store: S3Store, signer: Any) -> None:
        self._store = store
        self._signer = signer

    def _presign(self, operation: str, params: dict[str, Any], expires_in: int) -> str:
        url: str = self._signer.generate_presigned_url(
            operation,
            Params={"Bucket": self._store.bucket, **params},
            ExpiresIn=check_expires_in(expires_in),
            HttpMethod="PUT",
        )
        return url

    def presign_put(
        self, key: str, expires_in: int, content_type: str | None = None
    ) -> PresignedRequest:
        """A presigned PutObject; ``Content-Type`` is signed when given."""
        params: dict[str, Any] = {"Key": self._store.full_key(key)}
        if content_type:
            params["ContentType"] = content_type
        expires_at = datetime.now(UTC) + timedelta(seconds=expires_in)
        url = self._presign("put_object", params, expires_in)
        headers = {"Content-Type": content_type} if content_type else {}
        return PresignedRequest(url, "PUT", headers, expires_at)

    def create(self, key: str) -> str:
        """CreateMultipartUpload."""
        store = self._store
        with storage_errors("multipart start"):
            created = store.client.create_multipart_upload(
                Bucket=store.bucket, Key=store.full_key(key)
            )
        return str(created["UploadId"])

    def presign_part(self, key: str, upload_id: str, part_number: int, expires_in: int) -> str:
        """A presigned UploadPart."""
        params = {
            "Key": self._store.full_key(key),
            "UploadId": upload_id,
            "PartNumber": check_part_number(part_number),
        }
        return self._presign("upload_part", params, expires_in)

    def list_parts(self, key: str, upload_id: str) -> list[PartInfo]:
        """ListParts, every page (up to 10000 parts)."""
        store, parts = self._store, list[PartInfo]()
        kwargs: dict[str, Any] = {
            "Bucket": store.bucket, "Key": store.full_key(key), "UploadId": upload_id,
        }  # fmt: skip
        while True:
            try:
                with storage_errors("multipart listing"):
                    page = store.client.list_parts(**kwargs)
            except TransientError as exc:
                if error_code(exc) in ("NoSuchUpload", "404"):
                    raise _upload_missing() from exc
                raise
            parts.extend(
                PartInfo(int(p["PartNumber"]), quote_etag(p["ETag"]), int(p["Size"]))
                for p in page.get("Parts", [])
            )
            if not page.get("IsTruncated"):
                return parts
            kwargs["PartNumberMarker"] = page["NextPartNumberMarker"]

    def complete(self, key: str, upload_id: str, parts: Sequence[tuple[int, str]]) -> BlobInfo:
        """Check ``parts`` against ListParts (to name a bad part), then complete."""
        store = self._store
        uploaded = {p.part_number: p for p in self.list_parts(key, upload_id)}
        chosen = check_completion(parts, uploaded)
        listed = [{"PartNumber": p.part_number, "ETag": p.etag} for p in chosen]
        try:
            with storage_errors("multipart completion"):
                store.client.complete_multipart_upload(
                    Bucket=store.bucket, Key=store.full_key(key), UploadId=upload_id,
                    MultipartUpload={"Parts": listed},
                )  # fmt: skip
        except TransientError as exc:
            code = error_code(exc)
            if code in _BAD_PARTS:
                raise LakeportError(
                    "bad_request", f"storage refused the part list ({code})"
                ) from exc
            if code == "NoSuchUpload":
                raise _upload_missing() from exc
            raise
        info = store.stat(key)
        if info is None:
            raise TransientError("storage_error", "the completed object is not visible yet")
        return info

    def abort(self, key: str, upload_id: str) -> None:
        """AbortMultipartUpload; unknown uploads are fine."""
        self._store.abort_upload_quietly(self._store.full_key(key), upload_id)
