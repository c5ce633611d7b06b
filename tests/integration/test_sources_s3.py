"""A prefix source on S3 (moto's server over real HTTP stands in for S3): paginated
listing, ETag change detection and replacement, through the real job queue."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from lakeport.config import Settings
from tests.integration.pipeline_helpers import collection, drain_jobs, rows_of
from tests.s3server import (
    FAKE_ACCESS_KEY,
    FAKE_SECRET_KEY,
    REGION,
    create_bucket,
    moto_s3_server,
    s3_settings,
)


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_s3_server() as url:
        yield url


@pytest.fixture
def bucket(endpoint: str) -> str:
    return create_bucket(endpoint)


@pytest.fixture
def s3(endpoint: str) -> Iterator[object]:
    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=FAKE_ACCESS_KEY,
        aws_secret_access_key=FAKE_SECRET_KEY,
        config=Config(s3={"addressing_style": "path"}),
    )
    yield client
    client.close()


@pytest.fixture
def settings(tmp_path, database_url, endpoint, bucket) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        bootstrap_token="lp_test_admin_token",
        connections={"lake": s3_settings(endpoint, bucket)},
    )


def _csv(ids: range) -> bytes:
    return ("id,v\n" + "".join(f"{i},{i * 2}\n" for i in ids)).encode()


def test_s3_prefix_is_listed_across_pages_and_changes_replace_rows(api, runtime, s3, bucket):
    """ETags come from S3; a rewritten object's rows are replaced."""
    # 1,000 non-matching keys between matching ones: the CSVs sit on both sides of the
    # first ListObjectsV2 page boundary (1,000 keys), and the glob filters during listing
    for n in range(1000):
        s3.put_object(Bucket=bucket, Key=f"feed/m-{n:04d}.txt", Body=b"not data")
    names = ["a-1.csv", "a-2.csv", "z-1.csv", "z-2.csv", "z-3.csv"]
    for n, name in enumerate(names):
        s3.put_object(Bucket=bucket, Key=f"feed/{name}", Body=_csv(range(n, n + 1)))
    files = len(names)
    coll = collection(api)
    source = api.post(
        f"/v1/collections/{coll}/sources",
        json={
            "name": "lake",
            "connection": "lake",
            "prefix": "feed/",
            "pattern": "*.csv",
            "dataset_name": "feed",
        },
    ).json()
    run = api.post(f"/v1/sources/{source['id']}/runs").json()["run"]
    drain_jobs(runtime, concurrency=2)
    done = api.get(f"/v1/runs/{run['id']}").json()
    assert done["status"] == "succeeded", done
    assert done["counts"]["new"] == files and done["rows_loaded"] == files

    s3.put_object(Bucket=bucket, Key="feed/a-1.csv", Body=_csv(range(5000, 5003)))
    again = api.post(f"/v1/sources/{source['id']}/runs").json()["run"]
    drain_jobs(runtime)
    second = api.get(f"/v1/runs/{again['id']}").json()
    assert second["counts"]["changed"] == 1 and second["counts"]["unchanged"] == files - 1
    dataset = api.get(f"/v1/collections/{coll}/datasets").json()["items"][0]
    ids = sorted(r["id"] for r in rows_of(api, dataset["id"]))
    assert ids == [*range(1, files), 5000, 5001, 5002]
