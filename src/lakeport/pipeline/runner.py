"""Running an upload's pipeline: resume at the first unfinished step, persist every transition.

Each step's start is committed before its work begins and its end (with its outcome) in
one transaction after; a worker killed anywhere restarts at the step it was in. Terminal
errors end the upload ``failed`` with ``failure_reason = {step, code, message, at,
details?}`` and remove whatever the upload had staged; transient errors propagate so the
job queue retries them.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from lakeport.db import uploads as repo
from lakeport.db.models import Upload, utcnow
from lakeport.domain.states import (
    AWAITING_REVIEW,
    STEPS,
    TERMINAL_COMPLETION,
    VALIDATED,
    done_state,
    resume_point,
    running_state,
)
from lakeport.errors import LakeportError
from lakeport.formats.carry_over import carry_samples
from lakeport.pipeline.cleanup import discard_upload_outputs, give_back_quota
from lakeport.pipeline.context import Apply, StepInput
from lakeport.pipeline.group_request import queue_group_commit
from lakeport.pipeline.steps import STEP_FUNCTIONS
from lakeport.runtime import Runtime
from lakeport.sources.progress import file_finished
from lakeport.storage.local_copies import keep_local_copies

logger = logging.getLogger(__name__)

#: Failures after which the landing object is worthless and is deleted at once.
DISCARD_OBJECT_ON = frozenset({"quota_exceeded", "upload_mismatch", "invalid_parts"})


def run_upload(rt: Runtime, upload_id: str) -> str | None:
    """Drive one upload to a terminal state; returns its final ``completion_status``.

    One transaction per step boundary: the attempt is counted with the first step's
    start, and each step's end is written with the next one's start (a worker killed
    in between resumes at that next step, exactly as if they had been two commits).
    """
    with keep_local_copies(), carry_samples():  # infer and convert share one download,
        return _run_steps(rt, upload_id)  # and convert starts from infer's parsed sample


def _run_steps(rt: Runtime, upload_id: str) -> str | None:
    started = _begin(rt, upload_id)
    while started is not None:
        step, snapshot = started
        try:
            apply = STEP_FUNCTIONS[step](rt, snapshot)
            end, started = _finish_step(rt, upload_id, step, apply)
            if end == "registering":
                queue_group_commit(rt, upload_id)  # only after the step's commit
                return "registering"  # waiting for its group commit (a separate job)
            if step == "register" and snapshot.connection is None:
                _drop_landing_object(rt, snapshot.object_key)  # never a source's own file
        except LakeportError as exc:
            if not exc.terminal:
                raise
            fail_upload(rt, upload_id, step, exc)
            started = None
        except Exception as exc:  # a bug or an unexpected library error: fail, never crash
            logger.exception("upload %s failed unexpectedly in %s", upload_id, step)
            fail_upload(
                rt, upload_id, step, LakeportError("internal_error", f"{step} failed: {exc}")
            )
            started = None
    return _completion_status(rt, upload_id)


def _begin(rt: Runtime, upload_id: str) -> tuple[str, StepInput] | None:
    """Count this start and start the step to resume at, in one transaction; past
    ``max_attempts`` the upload fails instead of running again."""
    limit = rt.settings.worker.max_attempts
    with rt.sessions.begin() as session:
        upload = repo.lock_upload(session, upload_id)
        if upload is None or resume_point(upload.completion_status).next_step is None:
            return None
        upload.attempts += 1
        attempts, status = upload.attempts, upload.completion_status or "combining"
        if attempts <= limit:
            return _start(upload)
    message = f"the upload was started {attempts - 1} times without finishing (worker lost)"
    fail_upload(rt, upload_id, _step_of(status), LakeportError("worker_lost", message))
    return None


def give_up(rt: Runtime, upload_id: str, error: LakeportError) -> None:
    """Fail an upload at whatever step it is in (transient retries exhausted)."""
    with rt.sessions() as session:
        upload = repo.lock_upload(session, upload_id)
        status = upload.completion_status if upload else None
    fail_upload(rt, upload_id, _step_of(status or "combining"), error)


def _step_of(status: str) -> str:
    for name, running, done in STEPS:
        if status in (running, done):
            return name
    return "combine"


def _start(upload: Upload) -> tuple[str, StepInput] | None:
    """Mark the upload's next step started (the caller commits); None when none is left."""
    step = resume_point(upload.completion_status).next_step
    if step is None:
        return None
    upload.status = "processing"
    repo.log_step(upload, step, "start", running_state(step))
    return step, StepInput.of(upload)


def _finish_step(
    rt: Runtime, upload_id: str, step: str, apply: Apply
) -> tuple[str, tuple[str, StepInput] | None]:
    """Record a step's outcome and start the next step, in one transaction; returns the
    step's end state and the started next step, if any."""
    with rt.sessions.begin() as session:
        upload = repo.lock_upload(session, upload_id)
        assert upload is not None
        apply(session, upload)
        end = _end_state(upload, step)
        if end == running_state(step):  # still running: waiting on its group commit
            return end, None
        repo.log_step(upload, step, "end", end)
        if end in TERMINAL_COMPLETION:
            after_terminal(session, upload)
        return end, _start(upload)


def after_terminal(session: Session, upload: Upload, advance_run: bool = True) -> str | None:
    """Whatever waits on an upload's outcome hears it in the same transaction; returns
    the source run it belongs to, if any (``advance_run=False``: the caller moves it)."""
    if upload.kind == "source":
        return file_finished(session, upload, advance_run)
    return None


def _end_state(upload: Upload, step: str) -> str:
    """Where a finished step leaves the upload: usually its done state; a dry run ends
    ``validated``; an append awaiting review parks after infer; a convert whose sample
    types did not fit goes back to before infer."""
    if step == "infer" and upload.plan.get("awaiting_review"):
        return AWAITING_REVIEW
    if step == "register" and upload.status == "validated":
        return VALIDATED
    if step == "register" and upload.commit_group:
        return "registering"
    if step == "convert" and upload.plan.get("retype_pending"):
        return done_state("combine")  # typed from a sample that did not fit: infer again
    return done_state(step)


def _drop_landing_object(rt: Runtime, key: str) -> None:
    """Once the table owns the data, the landing copy is only a cost; best effort (the
    retention job sweeps whatever this misses)."""
    try:
        rt.store.delete(key)
    except Exception:
        logger.warning("could not delete landing object %s; retention will retry", key)


def _completion_status(rt: Runtime, upload_id: str) -> str | None:
    with rt.sessions() as session:
        upload = repo.lock_upload(session, upload_id)
        return upload.completion_status if upload else None


def fail_upload(rt: Runtime, upload_id: str, step: str, error: LakeportError) -> None:
    """End the upload ``failed`` with its reason, after removing its staged outputs."""
    with rt.sessions.begin() as session:
        upload = repo.lock_upload(session, upload_id)
        if upload is None:
            return
        discard_upload_outputs(rt, upload)
        give_back_quota(session, upload)
        reason: dict[str, Any] = {
            "step": step,
            "code": error.code,
            "message": error.message,
            "at": utcnow().isoformat(),
        }
        if error.details:
            reason["details"] = error.details
        upload.failure_reason = reason
        upload.status = "failed"
        upload.expires_at = utcnow() + timedelta(days=rt.settings.uploads.keep_failed_days)
        if error.code in DISCARD_OBJECT_ON and upload.connection is None:
            rt.store.delete(upload.object_key)
        repo.log_step(upload, step, "end", "failed")
        after_terminal(session, upload)
