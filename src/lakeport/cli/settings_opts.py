"""Building :class:`Settings` from environment variables plus command-line overrides."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lakeport.config import Settings

DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="LAKEPORT_DATA_DIR",
        help="Data directory (embedded database, local storage, warehouse).",
    ),
]


def load_settings(data_dir: Path | None = None, **overrides: Any) -> Settings:
    """Settings from ``LAKEPORT_*`` variables, with explicit options taking precedence."""
    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)
