"""Deciding a parked schema change (``schema_policy: review``).

Approve: the upload continues from infer as ``evolve`` (re-checked against the table as
it is *now*). Reject: it ends ``failed`` with ``schema_drift`` and the diff it showed.
"""

from __future__ import annotations

from typing import Literal

from lakeport.access import upload_for
from lakeport.db import uploads as repo
from lakeport.db.models import Upload, utcnow
from lakeport.db.queue import enqueue
from lakeport.db.tenancy import Principal
from lakeport.domain.states import AWAITING_REVIEW
from lakeport.errors import LakeportError
from lakeport.jobs.names import PROCESS_UPLOAD, upload_lock
from lakeport.runtime import Runtime

Decision = Literal["approve", "reject"]


def decide_review(rt: Runtime, principal: Principal, upload_id: str, decision: Decision) -> Upload:
    """Apply an editor's decision to a parked upload (409 unless it is awaiting review)."""
    with rt.sessions.begin() as session:
        upload = upload_for(session, principal, upload_id, "write", lock=True)
        if upload.completion_status != AWAITING_REVIEW:
            raise LakeportError(
                "invalid_state", f"the upload is {upload.completion_status}, not awaiting review"
            )
        if decision == "approve":
            upload.options = {**upload.options, "schema_policy": "evolve"}
            upload.attempts = 0
            repo.set_plan(upload, awaiting_review=False, review_approved=True)
            repo.log_step(upload, "review", "end", "combined")
            enqueue(session, PROCESS_UPLOAD, {"upload_id": upload.id}, lock=upload_lock(upload.id))
        else:
            upload.status = "failed"
            upload.failure_reason = {
                "step": "review",
                "code": "schema_drift",
                "at": utcnow().isoformat(),
                "message": f"the schema change was rejected by {principal.user_name}",
                "details": {"diff": upload.plan.get("review_diff")},
            }
            repo.log_step(upload, "review", "end", "failed")
        return upload
