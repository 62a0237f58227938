"""Options shared by commands, and turning them into Settings."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console

from agentlytics.errors import ConfigError
from agentlytics.settings import Settings, load_settings, setting_help

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

_help = setting_help()

DataDir = Annotated[
    str | None,
    typer.Option("--data-dir", help=_help["data_dir"][1], show_default="./agentlytics-data"),
]
Config = Annotated[
    str | None,
    typer.Option("--config", help="TOML file with settings (keys as in docs/configuration.md)."),
]


def settings_from(config: str | None, **flags: Any) -> Settings:
    try:
        return load_settings(flags, config_file=config)
    except ConfigError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from None
