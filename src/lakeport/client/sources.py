"""Client calls for prefix sources, runs and per-file state (REST API, like the rest)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from lakeport.client.api import Client


class SourcesClient:
    """``SourcesClient(client)``: sources over an existing :class:`Client` connection."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._client._request(method, path, **kwargs)

    def create(self, collection_id: str, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", f"/v1/collections/{collection_id}/sources", json=body
        )
        return result

    def list_all(self, collection_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", f"/v1/collections/{collection_id}/sources")[
            "items"
        ]
        return items

    def get(self, source_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/v1/sources/{source_id}")
        return result

    def run(self, source_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("POST", f"/v1/sources/{source_id}/runs")["run"]
        return result

    def get_run(self, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", f"/v1/runs/{run_id}")
        return result

    def wait_run(
        self,
        run_id: str,
        on_update: Callable[[dict[str, Any]], None] | None = None,
        interval: float = 1.0,
    ) -> dict[str, Any]:
        """Poll a run until it is no longer running."""
        while True:
            run = self.get_run(run_id)
            if on_update:
                on_update(run)
            if run["status"] != "running":
                return run
            time.sleep(interval)

    def files(self, source_id: str, status: str | None = None) -> Iterator[dict[str, Any]]:
        """Every file's state, following the cursor page by page."""
        cursor: str | None = None
        while True:
            params = {k: v for k, v in {"status": status, "cursor": cursor}.items() if v}
            page = self._call("GET", f"/v1/sources/{source_id}/files", params=params)
            yield from page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return

    def retry(self, source_id: str, paths: list[str] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = self._call(
            "POST", f"/v1/sources/{source_id}/files/retry", json={"paths": paths}
        )["run"]
        return result
