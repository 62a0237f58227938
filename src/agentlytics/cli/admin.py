"""``agentlytics keys …`` and ``agentlytics projects …``: manage a data directory offline."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from agentlytics.cli.options import Config, DataDir, console, out, settings_from
from agentlytics.errors import AgentlyticsError
from agentlytics.model.project import Account
from agentlytics.projects.service import ProjectService
from agentlytics.storage import registry

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
projects_app = typer.Typer(help="Create and list projects.", no_args_is_help=True)
accounts_app = typer.Typer(help="List accounts and set their web passwords.", no_args_is_help=True)

AccountOpt = Annotated[
    str | None, typer.Option("--account", help="Account e-mail (default: the owner).")
]


@contextmanager
def _service(data_dir: str | None, config: str | None) -> Iterator[ProjectService]:
    settings = settings_from(config, data_dir=data_dir)
    meta = registry.open_meta_store(settings)
    service = ProjectService(meta, None, settings)
    service.bootstrap()
    try:
        yield service
    except AgentlyticsError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from None
    finally:
        meta.close()


def _account(service: ProjectService, email: str | None) -> Account:
    account = service.meta.get_account_by_email(email) if email else service.owner()
    if account is None:
        console.print(f"[red]error:[/red] no account {email or '(owner)'}")
        raise typer.Exit(1)
    return account


def _when(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M") if ms else "-"


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], whole: Sequence[str]
) -> Table | Text:
    """A table whose ``whole`` columns (ids and keys, to copy into another command) are never
    cut or wrapped, however narrow the terminal or pipe: the other columns give way. When
    even those do not fit beside a few characters of each other column, one record per row
    (a ``header  value`` line each) instead."""
    widths = {
        h: max([len(h), *(len(row[i]) for row in rows)])
        for i, h in enumerate(headers)
        if h in whole
    }
    # each column takes its width plus 3 (borders, padding); the others at least 6 more
    need = 1 + sum(widths[h] + 3 if h in whole else 9 for h in headers)
    if rows and need > out.width:
        label = max(len(h) for h in headers)
        lines = []
        for row in rows:
            lines += [f"{h:<{label}}  {v}" for h, v in zip(headers, row, strict=True)] + [""]
        return Text("\n".join(lines[:-1]))
    table = Table()
    for header in headers:
        if header in whole:
            table.add_column(header, no_wrap=True, min_width=widths[header])
        else:
            table.add_column(header)
    for row in rows:
        table.add_row(*row)
    return table


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A label for the key.")] = "cli",
    scope: Annotated[str, typer.Option(help="read or full.")] = "read",
    account: AccountOpt = None,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Create an API key and print it once."""
    with _service(data_dir, config) as service:
        key, raw = service.create_api_key(_account(service, account), name, scope)
        console.print(f"created {key.scope} key {key.id} ({key.name}); it is shown only once:")
        out.print(raw)


@keys_app.command("list")
def keys_list(account: AccountOpt = None, data_dir: DataDir = None, config: Config = None) -> None:
    """List API keys (their values are never stored, only a prefix)."""
    with _service(data_dir, config) as service:
        rows = [
            (key.id, key.name, key.scope, key.prefix, _when(key.created_at), _when(key.revoked_at))
            for key in service.list_api_keys(_account(service, account))
        ]
        headers = ("id", "name", "scope", "prefix", "created", "revoked")
        out.print(_table(headers, rows, whole=("id", "prefix")))


@keys_app.command("revoke")
def keys_revoke(
    key_id: str, account: AccountOpt = None, data_dir: DataDir = None, config: Config = None
) -> None:
    """Revoke an API key by id (see `keys list`)."""
    with _service(data_dir, config) as service:
        service.revoke_api_key(_account(service, account), key_id)
        console.print(f"revoked {key_id}")


@projects_app.command("create")
def projects_create(
    name: str,
    origins: Annotated[str, typer.Option(help="Allowed origins, comma-separated.")] = "*",
    timezone: Annotated[str, typer.Option(help="IANA time zone for reports.")] = "UTC",
    account: AccountOpt = None,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Create a project (or show the existing one of that name) and its write key."""
    with _service(data_dir, config) as service:
        project, created = service.create_project(
            _account(service, account), name, allowed_origins=origins, timezone=timezone
        )
        console.print("created" if created else "exists", project.id)
        out.print(f"write key: {project.write_key}")


@projects_app.command("list")
def projects_list(
    account: AccountOpt = None, data_dir: DataDir = None, config: Config = None
) -> None:
    """List projects with their write keys."""
    with _service(data_dir, config) as service:
        headers = ("id", "name", "write key", "origins", "timezone", "created")
        rows = [
            (p.id, p.name, p.write_key, p.allowed_origins, p.timezone, _when(p.created_at))
            for p in service.list_projects(_account(service, account))
        ]
        out.print(_table(headers, rows, whole=("id", "write key")))


@accounts_app.command("list")
def accounts_list(data_dir: DataDir = None, config: Config = None) -> None:
    """List accounts (the owner is made at first start)."""
    with _service(data_dir, config) as service:
        owner = service.owner()
        rows = [
            (
                account.id + (" (owner)" if owner and owner.id == account.id else ""),
                account.email,
                str(len(service.meta.list_projects(account.id))),
                "set" if account.password_hash else "-",
                _when(account.created_at),
            )
            for account in service.meta.list_accounts()
        ]
        headers = ("id", "email", "projects", "web password", "created")
        out.print(_table(headers, rows, whole=("email",)))


@accounts_app.command("password")
def accounts_password(
    account: AccountOpt = None,
    password: Annotated[
        str | None,
        typer.Option(
            "--password",
            envvar="AGENTLYTICS_NEW_PASSWORD",
            help="The new password (default: asked for, or read from AGENTLYTICS_NEW_PASSWORD).",
        ),
    ] = None,
    data_dir: DataDir = None,
    config: Config = None,
) -> None:
    """Set an account's password for the web dashboard (default: the owner's)."""
    if password is None:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with _service(data_dir, config) as service:
        target = _account(service, account)
        service.set_password(target, password)
        console.print(f"password set for {target.email}; sign in at /signin")
