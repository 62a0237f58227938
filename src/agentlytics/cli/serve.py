"""``agentlytics serve``: run the server."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer
import uvicorn
from starlette.applications import Starlette

from agentlytics.app import build_services, create_app
from agentlytics.cli.options import Config, DataDir, console, settings_from
from agentlytics.cli.protocol import OneSendProtocol
from agentlytics.errors import AgentlyticsError
from agentlytics.settings import (
    ENV_PREFIX,
    Settings,
    load_settings,
    setting_help,
    setting_names,
)

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
    embedded = embedded_stores(settings)
    if settings.workers > 1 and embedded:
        console.print(
            "[red]error:[/red] --workers > 1 needs the scale-out backends "
            "(--events clickhouse://… --meta postgresql://… --coord redis://…); "
            f"{', '.join(embedded)} belong to one process"
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
    console.print(f"  events: {redact(settings.events_url)}")
    console.print(f"  meta:   {redact(settings.meta_url)}")
    console.print(f"  coord:  {redact(settings.coord)}")
    if services.bootstrap_key:
        console.print(
            "\n[bold yellow]Owner API key (shown once, store it now):[/bold yellow] "
            f"{services.bootstrap_key}\n"
        )
    console.print(f"  pid {os.getpid()}; Ctrl-C or SIGTERM stops it after committing.")
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "access_log": False,
        "proxy_headers": settings.trust_proxy_headers,
        "timeout_graceful_shutdown": 10,
        "http": OneSendProtocol,
    }
    if settings.workers == 1:
        app = create_app(services)
        quiet_gc()
        uvicorn.run(app, **options)
        return
    # Migrations and the owner bootstrap ran above, once; each worker opens its own stores
    # from the same settings, handed over through the environment.
    asyncio.run(services.aclose())
    console.print(f"  {settings.workers} worker processes")
    os.environ.update(settings_environ(settings))
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=settings.workers, **options)


#: stores that live inside one process: a file, an embedded engine, this process's memory
EMBEDDED_SCHEMES = {"duckdb": "DuckDB", "chdb": "chDB", "sqlite": "SQLite", "memory": "memory://"}


def embedded_stores(settings: Settings) -> list[str]:
    urls = (settings.events_url, settings.meta_url, settings.coord)
    return [EMBEDDED_SCHEMES[s] for u in urls if (s := urlsplit(u).scheme) in EMBEDDED_SCHEMES]


def settings_environ(settings: Settings) -> dict[str, str]:
    """Every setting as the AGENTLYTICS_* variable that reproduces it in a worker."""
    environ = {}
    for name in setting_names():
        value = getattr(settings, name)
        text = str(value).lower() if isinstance(value, bool) else str(value)
        environ[ENV_PREFIX + name.upper()] = text
    return environ


def quiet_gc() -> None:
    """Fewer, cheaper garbage collections under ingest load.

    What was loaded at start-up (modules, caches, the stores) is moved out of the collector's
    sight, and a young generation of 200,000 objects (rather than 700) keeps request objects
    from triggering collections. Each collection walks every young object still alive, and
    under batch load those are mostly the rows waiting for their apply (tuples of 45 values):
    at 20,000 the event loop spent ~5% of its time in ~40 ms collections (up to 100 ms);
    at 200,000 none ran in 30 s of load (docs/performance.md, "Ninth round"). Collections
    that are due still run, and reference counting frees most objects at once anyway.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(200_000, 20, 20)


def worker_app() -> Starlette:
    """The app of one worker process (``uvicorn --factory``), configured from the environment."""
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = create_app(build_services(settings))
    quiet_gc()
    return app


def redact(url: str) -> str:
    """A URL fit to print: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
