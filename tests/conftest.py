"""Shared fixtures: a real PostgreSQL database per test, a runtime, an API client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lakeport.accounts import bootstrap
from lakeport.api.app import create_app
from lakeport.config import Settings
from lakeport.runtime import Runtime
from tests.dbserver import admin_url, fresh_database


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    with admin_url() as url:
        yield url


@pytest.fixture
def database_url(pg_server_url: str) -> Iterator[str]:
    with fresh_database(pg_server_url) as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, bootstrap_token="lp_test_admin_token"
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime.build(settings)
    yield rt
    rt.close()


@pytest.fixture
def admin_token(runtime: Runtime) -> str:
    token = bootstrap(runtime).token
    assert token is not None
    return token


@pytest.fixture
def api(runtime: Runtime, admin_token: str) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {admin_token}"
        yield client
