"""``lakeport admin``: account administration straight against the configured database.

With the embedded default this joins the PostgreSQL that ``serve`` started in the same
data directory (or starts it for the duration of the command).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from lakeport import accounts
from lakeport.cli.settings_opts import DataDirOpt, load_settings
from lakeport.db.embedded import stop_embedded
from lakeport.errors import LakeportError
from lakeport.runtime import Runtime

app = typer.Typer(help="Administer orgs, users, tokens, grants and quotas.", no_args_is_help=True)


@contextmanager
def _runtime(data_dir: DataDirOpt) -> Iterator[Runtime]:
    settings = load_settings(data_dir)
    rt = Runtime.build(settings)
    try:
        yield rt
    except LakeportError as exc:
        typer.echo(f"error ({exc.code}): {exc.message}", err=True)
        raise typer.Exit(1) from exc
    finally:
        rt.close()
        if settings.database_url is None:
            stop_embedded(settings.resolved_data_dir())


def _run(data_dir: DataDirOpt, action: Callable[[Runtime], str | None]) -> None:
    with _runtime(data_dir) as rt:
        out = action(rt)
    if out:
        typer.echo(out)


@app.command("create-org")
def create_org(name: str, data_dir: DataDirOpt = None) -> None:
    """Create an org."""
    _run(data_dir, lambda rt: f"org {name} created: {accounts.create_org(rt, name)}")


@app.command("create-user")
def create_user(
    name: str,
    org: Annotated[str, typer.Option(help="Org name.")],
    role: Annotated[str, typer.Option(help="admin or member.")] = "member",
    data_dir: DataDirOpt = None,
) -> None:
    """Create a user in an org."""
    _run(data_dir, lambda rt: f"user {name} created: {accounts.create_user(rt, name, org, role)}")


@app.command("create-token")
def create_token(
    org: Annotated[str, typer.Option(help="Org name.")],
    user: Annotated[str | None, typer.Option(help="User name (default: a service user).")] = None,
    role: Annotated[str, typer.Option(help="Role of the service user.")] = "member",
    data_dir: DataDirOpt = None,
) -> None:
    """Create an API token; it is printed alone on the last line, once."""
    _run(
        data_dir,
        lambda rt: (
            "token (store it now; it is not shown again):\n"
            + accounts.create_token(rt, org, user, role)
        ),
    )


@app.command("grant")
def grant(
    user: str,
    collection: str,
    org: Annotated[str, typer.Option(help="Org name.")],
    role: Annotated[str, typer.Option(help="viewer or editor.")] = "viewer",
    data_dir: DataDirOpt = None,
) -> None:
    """Grant a user viewer or editor on a collection (ID or name)."""

    def action(rt: Runtime) -> str:
        accounts.grant(rt, org, user, collection, role)
        return f"{user} is {role} of {collection}"

    _run(data_dir, action)


@app.command("revoke-token")
def revoke_token(token: str, data_dir: DataDirOpt = None) -> None:
    """Revoke a token (by the token itself or its ID)."""

    def action(rt: Runtime) -> str:
        accounts.revoke_token(rt, token)
        return "token revoked"

    _run(data_dir, action)


@app.command("set-quota")
def set_quota(
    org: Annotated[str, typer.Option(help="Org name.")],
    limit_bytes: Annotated[int | None, typer.Option(help="Byte limit; omit for unlimited.")] = None,
    user: Annotated[str | None, typer.Option(help="Limit this user instead of the org.")] = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Set (or clear) the byte quota of an org or a user."""

    def action(rt: Runtime) -> str:
        accounts.set_quota(rt, org, user, limit_bytes)
        shown = "unlimited" if limit_bytes is None else f"{limit_bytes} bytes"
        return f"quota of {user or org} set to {shown}"

    _run(data_dir, action)


@app.command("cleanup")
def cleanup(data_dir: DataDirOpt = None) -> None:
    """Run retention now: expire abandoned sessions, delete rows past retention."""
    from lakeport.uploads.retention import run_retention

    def action(rt: Runtime) -> str:
        report = run_retention(rt)
        return f"{report.expired_sessions} sessions expired, {report.deleted_rows} rows deleted"

    _run(data_dir, action)
