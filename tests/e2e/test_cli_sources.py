"""``lakeport sources`` against a real ``lakeport serve`` with a local connection."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.processes import LAKEPORT, lakeport_env, serving

pytestmark = pytest.mark.e2e


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([LAKEPORT, *args], env=env, capture_output=True, text=True, timeout=120)


def test_sources_cli_create_run_files(tmp_path: Path, database_url: str):
    drop = tmp_path / "drop"
    (drop / "in").mkdir(parents=True)
    (drop / "in" / "a.csv").write_text("id,v\n1,x\n2,y\n")
    (drop / "in" / "b.csv").write_text("id,v\n3,z\n")
    data_dir = tmp_path / "data"
    env = lakeport_env(
        data_dir,
        database_url,
        LAKEPORT_BOOTSTRAP_TOKEN="lp_cli_sources_token",
        LAKEPORT_CONNECTIONS=json.dumps({"drop": {"backend": "local", "root": str(drop)}}),
    )
    with serving(env) as base:
        cli_env = {**env, "LAKEPORT_URL": base, "LAKEPORT_TOKEN": "lp_cli_sources_token"}
        import httpx

        with httpx.Client(
            base_url=base, headers={"Authorization": "Bearer lp_cli_sources_token"}
        ) as http:
            coll = http.post("/v1/collections", json={"name": "cli"}).json()["id"]
        made = _cli(
            cli_env,
            "sources",
            "create",
            "--collection",
            coll,
            "--name",
            "drop",
            "--connection",
            "drop",
            "--dataset",
            "drops",
            "--prefix",
            "in/",
            "--pattern",
            "*.csv",
        )
        assert made.returncode == 0, made.stderr
        source_id = json.loads(made.stdout)["id"]
        ran = _cli(cli_env, "sources", "run", source_id)
        assert ran.returncode == 0, ran.stderr
        assert "rows loaded: 3" in ran.stderr
        listed = _cli(cli_env, "sources", "files", source_id)
        assert listed.returncode == 0 and "in/a.csv" in listed.stdout
        assert listed.stdout.count("succeeded") == 2
        missing = _cli(cli_env, "sources", "show", "00000000-0000-0000-0000-000000000000")
        assert missing.returncode == 1 and "not_found" in missing.stderr
