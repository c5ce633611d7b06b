"""A real S3 HTTP endpoint for tests: moto's threaded server on a free 127.0.0.1 port.

moto stands in for S3 (nothing else is faked): the code under test builds its own boto3
clients and talks HTTP to this server exactly as it would to MinIO or AWS. Credentials
are fake and passed explicitly, so no developer's real AWS profile is ever touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
from botocore.config import Config
from moto.server import ThreadedMotoServer
from pydantic import SecretStr

from lakeport.config import StorageSettings

FAKE_ACCESS_KEY = "testing-access-key"
FAKE_SECRET_KEY = "testing-secret-key"
REGION = "us-east-1"


@contextmanager
def moto_s3_server() -> Iterator[str]:
    """Start moto's HTTP server on a free port; yield its endpoint URL; stop and close it."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        inner = server._server  # stop() shuts the loop down but leaves the socket open
        if inner is not None:
            inner.server_close()


def create_bucket(endpoint_url: str, name: str | None = None) -> str:
    """Create a uniquely named bucket (moto's state is per process, shared by servers)."""
    bucket = name or f"lakeport-test-{uuid.uuid4().hex[:12]}"
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=FAKE_ACCESS_KEY,
        aws_secret_access_key=FAKE_SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}),
    )
    try:
        client.create_bucket(Bucket=bucket)
    finally:
        client.close()
    return bucket


def s3_settings(endpoint_url: str, bucket: str, **overrides: object) -> StorageSettings:
    """StorageSettings pointing at the moto server with the fake credentials."""
    values: dict[str, object] = {
        "backend": "s3",
        "bucket": bucket,
        "region": REGION,
        "endpoint_url": endpoint_url,
        "access_key_id": FAKE_ACCESS_KEY,
        "secret_access_key": SecretStr(FAKE_SECRET_KEY),
        **overrides,
    }
    return StorageSettings.model_validate(values)
