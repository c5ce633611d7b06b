"""The embedded PostgreSQL (``pgserver``) used when no ``LAKEPORT_DATABASE_URL`` is set.

The server lives in ``<data_dir>/pg`` and listens on a Unix socket only. pgserver keeps a
reference count of the processes using one data directory, so ``lakeport admin`` run
beside ``lakeport serve`` joins the running server, and the last process to leave stops
it. When running as root, pgserver runs postgres as a dedicated system user.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

from lakeport.errors import TransientError

logger = logging.getLogger(__name__)

_servers: dict[Path, Any] = {}


def embedded_database_url(data_dir: Path) -> str:
    """Start (or join) the embedded server for ``data_dir`` and return its URL."""
    pgdata = data_dir / "pg"
    data_dir.mkdir(parents=True, exist_ok=True)
    if pgdata not in _servers:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset; harmless here.
            warnings.simplefilter("ignore")
            import pgserver  # lazy: only the embedded default needs it

        try:
            _servers[pgdata] = pgserver.get_server(pgdata, cleanup_mode="stop")  # type: ignore[attr-defined]
        except Exception as exc:  # pgserver raises plain subprocess errors
            log = pgdata / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise TransientError(
                "internal_error", f"could not start the embedded PostgreSQL: {exc}\n{tail}"
            ) from exc
    return str(_servers[pgdata].get_uri())


def stop_embedded(data_dir: Path) -> None:
    """Leave the embedded server; it stops when no other lakeport process uses it."""
    server = _servers.pop(data_dir / "pg", None)
    if server is not None:
        server._cleanup()  # pgserver's own ref-counted stop (also run at exit)
