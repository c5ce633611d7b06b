"""The Python client for lakeport's public REST API (the CLI uses it, never the database).

``Client(base_url, token).upload(path, collection_id)`` sends a file by the route its
size calls for (direct, presigned PUT, or parallel multipart with resume) and waits for
the pipeline; every error is a :class:`ClientError` carrying the server's stable code.
"""

from lakeport.client.api import Client
from lakeport.client.errors import (
    AuthError,
    ClientError,
    FileChangedError,
    InvalidStateError,
    NotFoundError,
    PartUploadError,
    PayloadTooLargeError,
    QuotaExceededError,
    RequestInvalidError,
    TransportError,
    UploadFailedError,
)
from lakeport.client.transfer import RetryPolicy, TransferProgress

__all__ = [
    "AuthError",
    "Client",
    "ClientError",
    "FileChangedError",
    "InvalidStateError",
    "NotFoundError",
    "PartUploadError",
    "PayloadTooLargeError",
    "QuotaExceededError",
    "RequestInvalidError",
    "RetryPolicy",
    "TransferProgress",
    "TransportError",
    "UploadFailedError",
]
