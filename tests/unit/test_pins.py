"""Every exact pin in pyproject.toml agrees with constraints.txt, so a fresh install
(`make install`) can always resolve."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_pyproject_pins_match_the_constraints_file():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + project["optional-dependencies"]["dev"]
    locked = dict(
        (_norm(n), v)
        for n, v in (
            line.strip().split("==", 1)
            for line in (ROOT / "constraints.txt").read_text().splitlines()
            if "==" in line
        )
    )
    pinned = [re.match(r"([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(.+)$", d) for d in deps]
    mismatches = {m.group(1): (m.group(2), locked.get(_norm(m.group(1))))
                  for m in pinned if m and locked.get(_norm(m.group(1))) != m.group(2)}
    assert mismatches == {}
    assert len([m for m in pinned if m]) >= 20
