"""The ``lakeport`` entry point: serve, worker, admin (and client commands)."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from lakeport import service
from lakeport.cli import admin, client_cmds, sources_cmds
from lakeport.cli.settings_opts import DataDirOpt, load_settings

app = typer.Typer(
    help="lakeport: data files of any size into Apache Iceberg tables.", no_args_is_help=True
)
app.add_typer(admin.app, name="admin")
app.add_typer(client_cmds.datasets_app, name="datasets")
app.add_typer(sources_cmds.app, name="sources")
app.command("upload")(client_cmds.upload)
app.command("upload-parquet", help="Alias of `upload`.")(client_cmds.upload)
app.command("status")(client_cmds.status)
app.command("abort")(client_cmds.abort)
app.command("quota")(client_cmds.quota)


@app.command()
def serve(
    host: Annotated[str, typer.Option(envvar="LAKEPORT_HOST")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="LAKEPORT_PORT")] = 8000,
    workers: Annotated[
        int | None, typer.Option(help="In-process workers (default LAKEPORT_WORKER__CONCURRENCY).")
    ] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Run the API and in-process workers (embedded PostgreSQL unless a database is set)."""
    _logging()
    settings = load_settings(data_dir)
    service.serve(
        settings, host, port, workers if workers is not None else settings.worker.concurrency
    )


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option(help="Jobs run at once.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Run workers only, against the configured database (for scale-out)."""
    _logging()
    settings = load_settings(data_dir)
    service.work(settings, concurrency or settings.worker.concurrency)


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def main() -> None:
    """Console-script entry point."""
    app()
