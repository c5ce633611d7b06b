"""What importing lakeport and starting a worker set up for the whole process, checked
in fresh interpreters (both depend on what was imported before)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _python(code: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=clean | env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


POOL = "import pyarrow as pa; print(pa.default_memory_pool().backend_name)"
CLI = "import lakeport.cli.main; " + POOL


def test_lakeports_processes_allocate_with_jemalloc() -> None:
    assert _python(CLI) == "jemalloc"


@pytest.mark.parametrize("pool", ["system", "mimalloc"])
def test_an_operator_can_choose_another_allocator(pool: str) -> None:
    assert _python(CLI, ARROW_DEFAULT_MEMORY_POOL=pool) == pool


def test_importing_lakeport_as_a_library_leaves_the_allocator_alone() -> None:
    default = _python(POOL)
    assert _python("import lakeport.client, lakeport.formats; " + POOL) == default


def test_a_worker_preloads_every_reader_and_what_pyiceberg_imports_late() -> None:
    code = (
        "import sys, lakeport.jobs.worker as w\n"
        "names = [f'lakeport.formats.{m}' for m in ('csv', 'json', 'parquet', 'excel')]\n"
        "names += ['rich.console', 'rich.table']\n"
        "from lakeport.db.models import Upload\n"
        "before = [n in sys.modules for n in names], Upload.__mapper__.configured\n"
        "w.preload()\n"
        "after = [n in sys.modules for n in names], Upload.__mapper__.configured\n"
        "print(sum(before[0]), before[1], sum(after[0]), after[1])\n"
    )
    assert _python(code) == "0 False 6 True"
