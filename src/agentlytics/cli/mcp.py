"""``agentlytics mcp``: the MCP tools over stdio, for Claude Desktop, Cursor and other local
clients. Either on a data directory (in this process), or relayed to a running server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import anyio
import typer

from agentlytics.app import build_services
from agentlytics.cli.options import Config, DataDir, console, settings_from
from agentlytics.errors import AgentlyticsError
from agentlytics.mcp import proxy, server


def mcp(
    data_dir: DataDir = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="AGENTLYTICS_URL",
            help="A running server (e.g. http://127.0.0.1:8720): relay tool calls to its /mcp.",
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            envvar="AGENTLYTICS_KEY",
            help="Secret API key (aak_…) the tools act as. Needed with --url; with --data-dir "
            "the default is the owner account, with full scope.",
        ),
    ] = None,
    config: Config = None,
) -> None:
    """Serve the MCP tools over stdio (for local MCP clients)."""
    if url:
        if not key:
            console.print("[red]error:[/red] --url needs --key (a secret API key, aak_…)")
            raise typer.Exit(2)
        anyio.run(proxy.serve_stdio, url, key)
        return
    settings = settings_from(config, data_dir=data_dir)
    if not Path(settings.data_dir).is_dir() and not (settings.events and settings.meta):
        console.print(f"[red]error:[/red] no data directory at {settings.data_dir}")
        raise typer.Exit(2)
    try:
        services = build_services(settings)
    except AgentlyticsError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None
    except Exception as exc:  # most often: the server has the DuckDB file open
        console.print(
            f"[red]error:[/red] cannot open the stores: {exc}\n"
            "While `agentlytics serve` runs on this data directory, use "
            "`agentlytics mcp --url http://HOST:PORT --key aak_…` instead."
        )
        raise typer.Exit(2) from None
    try:
        anyio.run(server.serve_stdio, services, key)
    except AgentlyticsError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None
