"""The SHA-256 of a stored object, read back from storage in 1 MiB chunks.

Used where a client declared the file's hash: the service checks the bytes storage
holds, never the client's word (presigned ``confirm``, multipart combine).
"""

from __future__ import annotations

import hashlib

from lakeport.storage.base import BlobStore

CHUNK = 1024 * 1024


def stored_sha256(store: BlobStore, key: str) -> str:
    """Hex SHA-256 of the object at ``key`` (streamed: memory stays one chunk)."""
    digest = hashlib.sha256()
    with store.open_read(key) as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
