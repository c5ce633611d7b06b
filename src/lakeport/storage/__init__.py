"""Landing-zone storage: the :class:`BlobStore` port, its backends and the factory.

Callers depend on the protocols only; :func:`build_blob_store` picks the backend from
settings at start-up. The S3 backend is imported lazily, so boto3 loads only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lakeport.config import Settings
from lakeport.storage.base import (
    BlobInfo,
    BlobNotFound,
    BlobStore,
    BlobWriter,
    validate_key,
    validate_prefix,
)
from lakeport.storage.capabilities import (
    PartInfo,
    PresignedRequest,
    SupportsMultipart,
    SupportsPresign,
)

__all__ = [
    "BlobInfo",
    "BlobNotFound",
    "BlobStore",
    "BlobWriter",
    "PartInfo",
    "PresignedRequest",
    "SupportsMultipart",
    "SupportsPresign",
    "build_blob_store",
    "validate_key",
    "validate_prefix",
]

if TYPE_CHECKING:
    from lakeport.storage.local import LocalStore
    from lakeport.storage.s3 import S3Store

    def _both_backends_offer_everything(
        local: LocalStore, s3: S3Store
    ) -> tuple[BlobStore, SupportsPresign, SupportsMultipart, BlobStore, SupportsPresign,
               SupportsMultipart]:  # fmt: skip
        """Never called: mypy checks here that each backend satisfies every protocol."""
        return local, local, local, s3, s3, s3


def build_blob_store(settings: Settings) -> BlobStore:
    """The configured store: files under ``settings.storage_root()`` or an S3 bucket."""
    if settings.storage.backend == "s3":
        from lakeport.storage.s3 import S3Store

        return S3Store(settings.storage, scratch_dir=settings.resolved_data_dir() / "tmp")
    from lakeport.storage.local import LocalStore

    return LocalStore(settings.storage_root(), signing_key=settings.signing_key())
