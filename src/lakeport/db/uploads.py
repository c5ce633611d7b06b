"""Repository for uploads: creation, org-scoped reads, and durable pipeline transitions.

Every transition is written (and committed by the caller) before the next step starts,
and appended to ``completion_steps_log``; that log is what a user watches and what a
resumed worker trusts.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lakeport.db.models import Dataset, Upload, utcnow


def get_upload(session: Session, org_id: str, upload_id: str) -> Upload | None:
    """An upload of the caller's org, or None (foreign and missing look the same)."""
    return session.scalar(select(Upload).where(Upload.id == upload_id, Upload.org_id == org_id))


def lock_upload(session: Session, upload_id: str) -> Upload | None:
    """The upload row, locked for this transaction (worker side, no org scoping)."""
    return session.scalar(select(Upload).where(Upload.id == upload_id).with_for_update())


def list_uploads(session: Session, org_id: str, collection_id: str, limit: int) -> list[Upload]:
    return list(
        session.scalars(
            select(Upload)
            .where(Upload.org_id == org_id, Upload.collection_id == collection_id)
            .order_by(Upload.created_at.desc())
            .limit(limit)
        )
    )


def log_step(upload: Upload, step: str, phase: str, status: str) -> None:
    """Append a step event and set ``completion_status`` (JSONB is reassigned, not mutated)."""
    now = utcnow()
    upload.completion_steps_log = [
        *upload.completion_steps_log,
        {"step": step, "phase": phase, "status": status, "at": now.isoformat()},
    ]
    upload.completion_status = status
    upload.updated_at = now


def set_plan(upload: Upload, **values: Any) -> None:
    """Merge durable pipeline decisions into the upload's plan."""
    upload.plan = {**upload.plan, **values}


def find_registered_duplicate(
    session: Session, dataset_id: str, sha256: str, exclude_id: str
) -> Upload | None:
    """An earlier registered upload of the same bytes into the same dataset."""
    return session.scalar(
        select(Upload)
        .where(
            Upload.dataset_id == dataset_id,
            Upload.sha256 == sha256,
            Upload.completion_status == "registered",
            Upload.id != exclude_id,
        )
        .order_by(Upload.created_at)
        .limit(1)
    )


def get_dataset(session: Session, org_id: str, dataset_id: str) -> Dataset | None:
    return session.scalar(select(Dataset).where(Dataset.id == dataset_id, Dataset.org_id == org_id))


def get_dataset_by_name(session: Session, collection_id: str, name: str) -> Dataset | None:
    return session.scalar(
        select(Dataset).where(Dataset.collection_id == collection_id, Dataset.name == name)
    )


def list_datasets(session: Session, org_id: str, collection_id: str) -> list[Dataset]:
    return list(
        session.scalars(
            select(Dataset)
            .where(Dataset.org_id == org_id, Dataset.collection_id == collection_id)
            .order_by(Dataset.created_at)
        )
    )


def dataset_names(session: Session, collection_id: str) -> set[str]:
    return set(session.scalars(select(Dataset.name).where(Dataset.collection_id == collection_id)))
