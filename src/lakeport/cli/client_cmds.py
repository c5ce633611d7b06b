"""Client commands: upload, status, abort, quota, datasets. They speak the REST API through
the Python client (never the database), so they work against any lakeport deployment.

``LAKEPORT_URL`` and ``LAKEPORT_TOKEN`` configure them. The commands stay thin: choosing
the upload route, parallel parts, retries and resume all live in :mod:`lakeport.client`;
here is only what a terminal needs (progress bar, step lines, summary, exit codes).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from lakeport.client import Client, ClientError, TransferProgress

UrlOpt = Annotated[str, typer.Option("--url", envvar="LAKEPORT_URL", help="lakeport base URL.")]
TokenOpt = Annotated[str, typer.Option("--token", envvar="LAKEPORT_TOKEN", help="API token.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
DEFAULT_URL = "http://127.0.0.1:8000"
#: Exit status of ``upload`` when the file waits for an editor to review a schema change.
EXIT_AWAITING_REVIEW = 3
console = Console(stderr=True)
datasets_app = typer.Typer(help="List and show datasets.", no_args_is_help=True)


class SchemaPolicy(StrEnum):
    """What an append does when the file's schema differs from the dataset's."""

    strict = "strict"
    evolve = "evolve"
    review = "review"


def _fail(exc: ClientError) -> typer.Exit:
    console.print(f"[red]error ({exc.code}):[/red] {exc.message}")
    return typer.Exit(1)


def upload(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    collection: Annotated[str, typer.Option(help="Collection ID.")],
    dataset: Annotated[str | None, typer.Option(help="Dataset name (new or existing).")] = None,
    append: Annotated[str | None, typer.Option(help="Append to this dataset ID.")] = None,
    schema_policy: Annotated[
        SchemaPolicy | None, typer.Option(help="On a schema change: fail, evolve or park.")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue an interrupted upload of this (unchanged) file."),
    ] = False,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Parts sent at once.")] = 6,
    as_json: JsonOpt = False,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Upload a file: progress, then the pipeline steps as they run, then a summary.

    Exit status: 0 registered (or validated), 1 failed, 3 waiting for a schema review.
    """
    if dataset and append:
        raise typer.BadParameter("give --dataset or --append, not both")
    with Client(url, token) as client:
        try:
            created = send_with_progress(
                client,
                file,
                collection,
                quiet=as_json,
                dataset_name=dataset,
                target_dataset_id=append,
                schema_policy=schema_policy.value if schema_policy else None,
                resume=resume,
                concurrency=concurrency,
            )
            final = client.wait(created["id"], on_change=None if as_json else _StepPrinter())
        except ClientError as exc:
            raise _fail(exc) from exc
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/yellow]: run again with --resume to continue")
            raise typer.Exit(130) from None
        if as_json:
            typer.echo(json.dumps(final, indent=2))
        else:
            _summary(client, final)
    _exit_for(final["completion_status"])


def _exit_for(state: str) -> None:
    """A script can tell "loaded", "failed" and "waiting for a reviewer" apart."""
    if state == "awaiting_review":
        raise typer.Exit(EXIT_AWAITING_REVIEW)
    if state not in ("registered", "validated"):
        raise typer.Exit(1)


def send_with_progress(
    client: Client, file: Path, collection: str, *, quiet: bool, **options: Any
) -> dict[str, Any]:
    """The bytes, under a progress bar (bytes, rate, ETA); returns the upload as created.

    Public so that ``bench/upload.py`` measures exactly what ``lakeport upload`` runs.
    """
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=quiet,
    ) as bar:
        task = bar.add_task(f"uploading {file.name}", total=file.stat().st_size)
        progress = _bar_updater(bar, task, quiet)
        return client.upload(file, collection, progress=progress, wait=False, **options)


def _bar_updater(bar: Progress, task: TaskID, quiet: bool) -> Callable[[TransferProgress], None]:
    def update(event: TransferProgress) -> None:
        if event.resumed:
            # bytes an earlier run stored: show them as done without counting them as speed
            bar.reset(task, total=event.total, completed=event.done)
            if not quiet:
                console.print(f"resuming: {event.done:,} of {event.total:,} bytes already stored")
        else:
            bar.advance(task, event.delta)

    return update


class _StepPrinter:
    """Prints each pipeline step as the steps log grows (start, then end with its time)."""

    def __init__(self) -> None:
        self._seen = 0
        self._started: dict[str, datetime] = {}

    def __call__(self, upload: dict[str, Any]) -> None:
        log = upload.get("completion_steps_log") or []
        for entry in log[self._seen :]:
            at = datetime.fromisoformat(entry["at"])
            if entry["phase"] == "start":
                if entry["step"] not in self._started:  # a re-run step starts twice
                    self._started[entry["step"]] = at
                    console.print(f"  [dim]{entry['step']}…[/dim]")
            else:
                began = self._started.pop(entry["step"], at)
                took = (at - began).total_seconds()
                console.print(f"  [green]✓[/green] {entry['step']} ({took:.1f}s)")
        self._seen = len(log)


def _summary(client: Client, final: dict[str, Any]) -> None:
    state = final["completion_status"]
    if state == "failed":
        reason = final["failure_reason"] or {}
        console.print(
            f"[red]failed[/red] at {reason.get('step')}: "
            f"{reason.get('code')}: {reason.get('message')}"
        )
    elif state == "awaiting_review":
        console.print(
            f"[yellow]awaiting review[/yellow]: upload {final['id']} changes the dataset's "
            "schema; an editor must approve or reject it (POST /v1/uploads/{id}/review)"
        )
    elif state == "validated":
        console.print(f"[green]validated[/green] (dry run): {final['rows_read']} rows read")
    else:
        ds = client.dataset(final["dataset_id"])
        console.print(f"[green]registered[/green] dataset {ds['name']} ({ds['id']})")
        console.print(
            f"  table {ds['table']['namespace']}.{ds['table']['name']}, "
            f"{final['rows_loaded']} rows loaded, {len(ds['schema']['fields'])} columns"
        )


def status(upload_id: str, url: UrlOpt = DEFAULT_URL, token: TokenOpt = "") -> None:
    """Print an upload's state as JSON."""
    with Client(url, token) as client:
        try:
            typer.echo(json.dumps(client.get_upload(upload_id), indent=2))
        except ClientError as exc:
            raise _fail(exc) from exc


def abort(upload_id: str, url: UrlOpt = DEFAULT_URL, token: TokenOpt = "") -> None:
    """Abort an unfinished upload: stored parts are deleted, its quota reservation freed."""
    with Client(url, token) as client:
        try:
            client.abort(upload_id)
        except ClientError as exc:
            raise _fail(exc) from exc
    console.print(f"aborted upload {upload_id}")


def quota(as_json: JsonOpt = False, url: UrlOpt = DEFAULT_URL, token: TokenOpt = "") -> None:
    """Bytes used, reserved by uploads in flight, and allowed: for you and your org."""
    with Client(url, token) as client:
        try:
            usage = client.quota()
        except ClientError as exc:
            raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(usage, indent=2))
        return
    table = Table("", "used", "reserved", "limit", "free")
    for who in ("user", "org"):
        u = usage[who]
        limit = u["limit_bytes"]
        free = (
            "unlimited" if limit is None else _size(limit - u["used_bytes"] - u["reserved_bytes"])
        )
        table.add_row(
            who,
            _size(u["used_bytes"]),
            _size(u["reserved_bytes"]),
            "none" if limit is None else _size(limit),
            free,
        )
    Console().print(table)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1024
    return f"{n} B"


@datasets_app.command("list")
def list_datasets(
    collection: Annotated[str, typer.Option(help="Collection ID.")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """The datasets of a collection."""
    with Client(url, token) as client:
        try:
            items = client.datasets(collection)
        except ClientError as exc:
            raise _fail(exc) from exc
    table = Table("id", "name", "table", "rows")
    for d in items:
        table.add_row(
            d["id"],
            d["name"],
            f"{d['table']['namespace']}.{d['table']['name']}",
            str(d["row_count"]),
        )
    Console().print(table)


@datasets_app.command("show")
def show_dataset(dataset_id: str, url: UrlOpt = DEFAULT_URL, token: TokenOpt = "") -> None:
    """One dataset as JSON."""
    with Client(url, token) as client:
        try:
            typer.echo(json.dumps(client.dataset(dataset_id), indent=2))
        except ClientError as exc:
            raise _fail(exc) from exc
