"""Shared integration fixtures: moto's S3 server, and settings on either backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakeport.config import Settings, StorageSettings
from tests.s3server import create_bucket, moto_s3_server, s3_settings


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """One moto S3 server (over HTTP, in its own process) per test module."""
    with moto_s3_server() as url:
        yield url


def backend_settings(request: Any, tmp_path: Path, database_url: str) -> Settings:
    """Settings on the backend named by ``request.param`` (``local`` or ``s3``, the
    latter a fresh bucket on the module's moto server)."""
    values: dict[str, Any] = {
        "data_dir": tmp_path / "data",
        "database_url": database_url,
        "bootstrap_token": "lp_test_admin_token",
    }
    if request.param == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        values["storage"] = s3_settings(endpoint, create_bucket(endpoint))
    return Settings(**values)


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    """An empty local directory for a source's ``drop`` connection (a module may
    override it with one filled up front)."""
    path = tmp_path / "drop"
    path.mkdir()
    return path


def drop_settings(tmp_path: Path, database_url: str, drop: Path) -> Settings:
    """Settings with a local storage connection named ``drop`` rooted at ``drop``."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        bootstrap_token="lp_test_admin_token",
        connections={"drop": StorageSettings(backend="local", root=drop)},
    )
