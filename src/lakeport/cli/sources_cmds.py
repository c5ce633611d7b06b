"""``lakeport sources``: create, list, show, run (with a progress view), files, retry."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from lakeport.cli.client_cmds import DEFAULT_URL, TokenOpt, UrlOpt
from lakeport.client import Client, ClientError
from lakeport.client.sources import SourcesClient

app = typer.Typer(
    help="Prefix sources: files landing under a storage prefix.", no_args_is_help=True
)
console = Console(stderr=True)


def _with(url: str, token: str, action: Any) -> Any:
    with Client(url, token) as client:
        try:
            return action(SourcesClient(client))
        except ClientError as exc:
            console.print(f"[red]error ({exc.code}):[/red] {exc.message}")
            raise typer.Exit(1) from exc


@app.command("create")
def create(
    collection: Annotated[str, typer.Option(help="Collection ID.")],
    name: Annotated[str, typer.Option(help="Source name.")],
    connection: Annotated[str, typer.Option(help="Storage connection named in settings.")],
    dataset: Annotated[str, typer.Option(help="Target dataset name.")],
    prefix: Annotated[str, typer.Option(help="Key prefix to watch.")] = "",
    pattern: Annotated[str, typer.Option(help="Glob below the prefix.")] = "**",
    schedule: Annotated[str | None, typer.Option(help="Cron or interval seconds.")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Create a source; prints it as JSON."""
    body = {
        "name": name,
        "connection": connection,
        "dataset_name": dataset,
        "prefix": prefix,
        "pattern": pattern,
        "schedule": schedule,
    }
    typer.echo(json.dumps(_with(url, token, lambda s: s.create(collection, body)), indent=2))


@app.command("list")
def list_sources(
    collection: Annotated[str, typer.Option(help="Collection ID.")],
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """The sources of a collection."""
    items = _with(url, token, lambda s: s.list_all(collection))
    table = Table("id", "name", "connection", "prefix", "pattern", "schedule", "enabled")
    for s in items:
        table.add_row(
            s["id"],
            s["name"],
            s["connection"],
            s["prefix"],
            s["pattern"],
            s["schedule"] or "-",
            str(s["enabled"]),
        )
    Console().print(table)


@app.command("show")
def show(source_id: str, url: UrlOpt = DEFAULT_URL, token: TokenOpt = "") -> None:
    """One source as JSON."""
    typer.echo(json.dumps(_with(url, token, lambda s: s.get(source_id)), indent=2))


def _run_table(run: dict[str, Any]) -> Table:
    table = Table(title=f"run {run['id']} - {run['status']} ({run['phase']})")
    for key in (
        "discovered",
        "new",
        "changed",
        "unchanged",
        "deleted",
        "succeeded",
        "failed",
        "skipped",
    ):
        table.add_column(key, justify="right")
    table.add_row(
        *(
            str(run["counts"].get(k, 0))
            for k in (
                "discovered",
                "new",
                "changed",
                "unchanged",
                "deleted",
                "succeeded",
                "failed",
                "skipped",
            )
        )
    )
    return table


@app.command("run")
def run(
    source_id: str,
    wait: Annotated[bool, typer.Option(help="Follow until done.")] = True,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Start a run and follow it with a live view; exits 1 unless it succeeds."""

    def action(sources: SourcesClient) -> dict[str, Any]:
        started = sources.run(source_id)
        if not wait:
            return started
        with Live(_run_table(started), console=console, refresh_per_second=2) as live:
            return sources.wait_run(started["id"], on_update=lambda r: live.update(_run_table(r)))

    final = _with(url, token, action)
    console.print(f"rows loaded: {final.get('rows_loaded', 0)}")
    if wait and final["status"] != "succeeded":
        raise typer.Exit(1)


@app.command("files")
def files(
    source_id: str,
    status: Annotated[str | None, typer.Option(help="Filter.")] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Per-file state (path, status, rows, error)."""
    items = _with(url, token, lambda s: list(s.files(source_id, status)))
    table = Table("path", "status", "rows", "attempts", "error")
    for f in items:
        error = f"{f['error']['code']}: {f['error']['message']}" if f["error"] else ""
        table.add_row(f["path"], f["status"], str(f["rows_loaded"] or 0), str(f["attempts"]), error)
    Console().print(table)


@app.command("retry")
def retry(
    source_id: str,
    path: Annotated[
        list[str] | None,
        typer.Option(help="Only these paths (repeatable); default all failed files."),
    ] = None,
    url: UrlOpt = DEFAULT_URL,
    token: TokenOpt = "",
) -> None:
    """Re-queue failed files in a new run."""
    started = _with(url, token, lambda s: s.retry(source_id, path or None))
    typer.echo(json.dumps(started, indent=2, default=str))
