"""The ``agentlytics`` command."""

from __future__ import annotations

import typer

from agentlytics.cli import admin, mcp, migrate, serve
from agentlytics.cli import agent as agent_cli

app = typer.Typer(
    name="agentlytics",
    help="Self-hosted, agent-first analytics.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.command("migrate")(migrate.migrate)
app.command("mcp")(mcp.mcp)
app.add_typer(admin.keys_app, name="keys")
app.add_typer(admin.projects_app, name="projects")
app.add_typer(admin.accounts_app, name="accounts")
app.command("init")(agent_cli.init)
app.command("verify")(agent_cli.verify)
app.command("plan")(agent_cli.plan)


def main() -> None:
    app()
