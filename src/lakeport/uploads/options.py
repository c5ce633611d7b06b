"""The options a client may attach to an upload, validated once at the edge.

Unknown options are rejected rather than ignored: an option the pipeline would silently
drop is worse than a clear 422.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lakeport.errors import LakeportError


class UploadOptions(BaseModel):
    """Where the rows go and how the file is read (overrides detection)."""

    model_config = ConfigDict(extra="forbid")

    dataset_name: str | None = Field(default=None, min_length=1, max_length=100)
    target_dataset_id: str | None = None
    schema_policy: Literal["strict", "evolve", "review"] = "strict"
    #: Run everything but the commit; report schema, counts and errors.
    dry_run: bool = False
    #: Load the bytes again even if the same content already landed in the dataset.
    force: bool = False
    format: Literal["csv", "tsv", "json", "parquet", "xlsx"] | None = None
    delimiter: str | None = Field(default=None, min_length=1, max_length=1)
    header: bool | None = None
    encoding: str | None = None
    null_values: list[str] | None = None
    sheet: str | None = None
    #: A bad row fails the upload (``abort``) or is left out and listed under
    #: ``GET /v1/uploads/{id}/rejects`` (``skip_row``).
    on_error: Literal["abort", "skip_row"] = "abort"

    @field_validator("null_values", mode="before")
    @classmethod
    def _split_nulls(cls, value: Any) -> Any:
        """Form fields carry lists as JSON (``["NA",""]``) or comma-separated text."""
        if isinstance(value, str):
            text = value.strip()
            return json.loads(text) if text.startswith("[") else text.split(",")
        return value


def parse_options(raw: dict[str, Any]) -> UploadOptions:
    """Validated options, or ``validation_error`` naming each bad field."""
    cleaned = {k: v for k, v in raw.items() if v not in (None, "")}
    try:
        return UploadOptions.model_validate(cleaned)
    except (ValidationError, json.JSONDecodeError) as exc:
        errors = exc.errors() if isinstance(exc, ValidationError) else [{"msg": str(exc)}]
        details = [
            {"field": ".".join(map(str, e.get("loc", ()))), "message": e["msg"]} for e in errors
        ]
        raise LakeportError(
            "validation_error", "invalid upload options", {"errors": details}
        ) from exc
