"""What a pipeline step receives and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from lakeport.db.models import Upload
from lakeport.formats import ReadOptions

Apply = Callable[[Session, Upload], None]


@dataclass(frozen=True)
class StepInput:
    """What a step may read of its upload, copied out of the locked row."""

    id: str
    org_id: str
    collection_id: str
    object_key: str
    filename: str
    sha256: str | None
    options: dict[str, Any]
    plan: dict[str, Any]
    kind: str
    storage_upload_id: str | None
    #: Storage connection of ``object_key``; None is the landing zone.
    connection: str | None

    @classmethod
    def of(cls, upload: Upload) -> StepInput:
        return cls(
            upload.id,
            upload.org_id,
            upload.collection_id,
            upload.object_key,
            upload.filename,
            upload.sha256,
            dict(upload.options),
            dict(upload.plan),
            upload.kind,
            upload.storage_upload_id,
            upload.connection,
        )


def read_options(options: dict[str, Any]) -> ReadOptions:
    """The user's format overrides as :class:`ReadOptions`."""
    nulls = options.get("null_values")
    return ReadOptions(
        format=options.get("format"),
        delimiter=options.get("delimiter"),
        header=options.get("header"),
        encoding=options.get("encoding"),
        null_values=tuple(nulls) if nulls is not None else None,
        sheet=options.get("sheet"),
        on_error=options.get("on_error", "abort"),
    )
