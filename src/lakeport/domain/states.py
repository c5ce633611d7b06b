"""The upload state machine: statuses, pipeline steps and the transitions allowed between them.

``status`` is the session's life (``uploaded`` → ``processing`` → ``registered`` | ``failed``);
``completion_status`` is where the pipeline stands. Each step has a *running* and a *done*
state (``inferring`` → ``inferred``), so a worker that resumes after a crash knows whether
the step finished (skip it) or not (run it again: every step is idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass

#: The pipeline steps in order, as (step name, running state, done state).
STEPS: tuple[tuple[str, str, str], ...] = (
    ("combine", "combining", "combined"),
    ("infer", "inferring", "inferred"),
    ("convert", "converting", "converted"),
    ("register", "registering", "registered"),
)

STEP_NAMES: tuple[str, ...] = tuple(step for step, _, _ in STEPS)
FAILED = "failed"
REGISTERED = "registered"
#: A dry run ends here: everything but the commit ran, nothing was written.
VALIDATED = "validated"
#: Parked after infer until an editor approves or rejects the schema change.
AWAITING_REVIEW = "awaiting_review"
TERMINAL_COMPLETION = frozenset({REGISTERED, FAILED, VALIDATED})
#: States in which no worker should act on the upload.
AT_REST = TERMINAL_COMPLETION | {AWAITING_REVIEW}

#: Session statuses.
UPLOADED = "uploaded"
PROCESSING = "processing"
STATUS_FAILED = "failed"
STATUS_REGISTERED = "registered"


@dataclass(frozen=True)
class Resume:
    """Where a (re)started pipeline must begin: the first step not yet done."""

    next_step: str | None


def resume_point(completion_status: str | None) -> Resume:
    """The first step to run given the last persisted ``completion_status``.

    ``None`` (never started) starts at the beginning; a running state re-runs its own
    step (it may have been interrupted); a done state moves to the next step.
    """
    if completion_status is None:
        return Resume(STEP_NAMES[0])
    if completion_status in AT_REST:
        return Resume(None)
    for index, (step, running, done) in enumerate(STEPS):
        if completion_status == running:
            return Resume(step)
        if completion_status == done:
            following = STEP_NAMES[index + 1] if index + 1 < len(STEPS) else None
            return Resume(following)
    raise ValueError(f"unknown completion_status {completion_status!r}")


def running_state(step: str) -> str:
    """``infer`` → ``inferring``."""
    return _lookup(step)[1]


def done_state(step: str) -> str:
    """``infer`` → ``inferred``."""
    return _lookup(step)[2]


def _lookup(step: str) -> tuple[str, str, str]:
    for entry in STEPS:
        if entry[0] == step:
            return entry
    raise ValueError(f"unknown step {step!r}")
