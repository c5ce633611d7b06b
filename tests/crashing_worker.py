"""A lakeport worker that SIGKILLs itself at a chosen point: the fault-injecting double.

Run as ``python -m tests.crashing_worker POINT``; settings come from ``LAKEPORT_*``.
POINT is ``before:<step>`` (step started, no work done), ``after:<step>`` (work done,
not yet recorded), ``inside:convert`` (first staged file written) or
``inside:register`` (Iceberg commit made, database not yet updated). The real worker
code runs unchanged; only the named function is wrapped. This is test code and is
never imported by lakeport itself.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from lakeport.config import Settings
from lakeport.pipeline import register, runner, steps
from lakeport.tables import staging


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _wrap_step(step: str, when: str) -> None:
    real = steps.STEP_FUNCTIONS[step]

    def wrapped(rt: Any, up: Any) -> Any:
        if when == "before":
            _die()
        result = real(rt, up)
        if when == "after":
            _die()
        return result

    steps.STEP_FUNCTIONS[step] = wrapped


def _crash_inside_convert() -> None:
    real_close = staging._RollingFile.close

    def close(self: Any) -> Any:
        result = real_close(self)
        _die()
        return result

    staging._RollingFile.close = close  # type: ignore[method-assign]


def _crash_inside_register() -> None:
    """After the Iceberg commit, whichever way it is made (a new table created with its
    files, or files appended to an existing one)."""
    for name in ("commit_files", "create_with_files"):
        real = getattr(register, name)

        def commit_then_die(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            _real(*args, **kwargs)
            _die()

        setattr(register, name, commit_then_die)


def main(point: str) -> None:
    when, _, step = point.partition(":")
    if when in ("before", "after"):
        _wrap_step(step, when)
    elif point == "inside:convert":
        _crash_inside_convert()
    elif point == "inside:register":
        _crash_inside_register()
    else:
        raise SystemExit(f"unknown crash point {point}")
    assert runner.STEP_FUNCTIONS is steps.STEP_FUNCTIONS
    from lakeport import service

    service.work(Settings(), 1)


if __name__ == "__main__":
    main(sys.argv[1])
