"""``lakeport admin`` against the configured database, and beside a running ``serve`` on the
embedded default (it joins the server that ``serve`` started in the same data directory)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from tests.processes import LAKEPORT, lakeport_env, serving

pytestmark = pytest.mark.e2e


def _admin(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LAKEPORT, "admin", *args], env=env, capture_output=True, text=True, timeout=120
    )


def test_admin_commands_on_a_database_url(tmp_path: Path, database_url: str):
    env = lakeport_env(tmp_path / "data", database_url)
    assert _admin(env, "create-org", "acme").returncode == 0
    again = _admin(env, "create-org", "acme")
    assert again.returncode == 1 and "already_exists" in again.stderr
    assert _admin(env, "create-user", "ann", "--org", "acme", "--role", "admin").returncode == 0
    bad_role = _admin(env, "create-user", "bob", "--org", "acme", "--role", "owner")
    assert bad_role.returncode == 1 and "validation_error" in bad_role.stderr
    made = _admin(env, "create-token", "--org", "acme", "--user", "ann")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip().splitlines()[-1]  # alone on the last line
    assert token.startswith("lp_") and " " not in token
    assert _admin(env, "set-quota", "--org", "acme", "--limit-bytes", "1000").returncode == 0
    assert _admin(env, "revoke-token", token).returncode == 0
    assert _admin(env, "revoke-token", token).returncode == 1  # nothing left to revoke


def test_admin_joins_the_embedded_server_of_a_running_serve(tmp_path: Path):
    data_dir = tmp_path / "data"
    env = lakeport_env(data_dir, None)
    with serving(env, workers=0) as base:
        made = _admin(env, "create-token", "--org", "default", "--role", "admin")
        assert made.returncode == 0, made.stderr
        token = made.stdout.strip().splitlines()[-1]
        me = httpx.get(f"{base}/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200 and me.json()["org"]["name"] == "default"
        assert httpx.get(f"{base}/readyz").status_code == 200  # serve's database still up
