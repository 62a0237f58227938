"""``agentlytics serve``: run the server."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from agentlytics.app import build_services, create_app
from agentlytics.cli.options import Config, DataDir, console, settings_from
from agentlytics.errors import AgentlyticsError
from agentlytics.settings import setting_help

_help = setting_help()


def serve(
    data_dir: DataDir = None,
    host: Annotated[
        str | None, typer.Option(help=_help["host"][1], show_default="127.0.0.1")
    ] = None,
    port: Annotated[int | None, typer.Option(help=_help["port"][1], show_default="8720")] = None,
    events: Annotated[str | None, typer.Option(help=_help["events"][1])] = None,
    meta: Annotated[str | None, typer.Option(help=_help["meta"][1])] = None,
    coord: Annotated[str | None, typer.Option(help=_help["coord"][1])] = None,
    workers: Annotated[int | None, typer.Option(help=_help["workers"][1])] = None,
    log_level: Annotated[str | None, typer.Option(help=_help["log_level"][1])] = None,
    config: Config = None,
) -> None:
    """Run the agentlytics server (embedded SQLite + DuckDB unless told otherwise)."""
    settings = settings_from(
        config,
        data_dir=data_dir,
        host=host,
        port=port,
        events=events,
        meta=meta,
        coord=coord,
        workers=workers,
        log_level=log_level,
    )
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.workers > 1:
        console.print(
            "[red]error:[/red] --workers > 1 needs the scale-out backends "
            "(--events clickhouse://… --meta postgresql://… --coord redis://…); "
            "the embedded DuckDB file belongs to one process"
        )
        raise typer.Exit(2)
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    try:
        services = build_services(settings)
    except AgentlyticsError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None
    except Exception as exc:  # a locked DuckDB file, an unreachable database, …
        console.print(f"[red]error:[/red] cannot open the stores: {exc}")
        raise typer.Exit(2) from None
    url = f"http://{settings.host}:{settings.port}"
    console.print(f"[bold]agentlytics[/bold] listening on [cyan]{url}[/cyan]")
    console.print(f"  events: {settings.events_url}")
    console.print(f"  meta:   {settings.meta_url}")
    console.print(f"  coord:  {settings.coord}")
    if services.bootstrap_key:
        console.print(
            "\n[bold yellow]Owner API key (shown once, store it now):[/bold yellow] "
            f"{services.bootstrap_key}\n"
        )
    console.print(f"  pid {os.getpid()}; Ctrl-C or SIGTERM stops it after committing.")
    uvicorn.run(
        create_app(services),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
        proxy_headers=settings.trust_proxy_headers,
        timeout_graceful_shutdown=10,
    )
