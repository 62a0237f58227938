"""``agentlytics init``, ``verify`` and ``plan``: set an app up from its own directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from agentlytics.agent import verify as verifying
from agentlytics.agent.apply import apply_plan
from agentlytics.agent.files import unified_diff, write
from agentlytics.agent.init import PLACEHOLDER_KEY, run_init
from agentlytics.agent.plan import as_json, as_markdown, propose
from agentlytics.agent.remote import RemoteError
from agentlytics.agent.remote import verify as fetch_verify

Dir = Annotated[
    Path,
    typer.Option("--dir", help="The app's directory.", file_okay=False, show_default="."),
]
Url = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="The agentlytics server (default: .agentlytics.json, then AGENTLYTICS_URL, "
        "then http://127.0.0.1:8720).",
    ),
]
DryRun = Annotated[
    bool, typer.Option("--dry-run", help="Print the changes as a diff; write nothing.")
]


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def init(
    write_key: Annotated[
        str | None,
        typer.Argument(help="A project write key (aat_…). Without one, a project is provisioned."),
    ] = None,
    url: Url = None,
    dir: Dir = Path("."),
    dry_run: DryRun = False,
) -> None:
    """Connect an app to agentlytics (provision a project, patch the app).

    Config and env vars, tracker script, SDK, MCP instrumentation, agent skill; idempotent.
    """
    try:
        result = run_init(dir, write_key=write_key, url=url, dry_run=dry_run)
    except RemoteError as exc:
        raise _fail(f"{exc}; start a server (agentlytics serve) or pass --url") from None
    kinds = ", ".join(result.app.kinds) or "no web framework, static site or MCP server found"
    typer.echo(f"agentlytics init in {result.root} ({kinds})")
    if dry_run:
        if result.write_key == PLACEHOLDER_KEY:
            typer.echo(
                f"A project would be provisioned at {result.url}; its key is shown as "
                f"{PLACEHOLDER_KEY}."
            )
        typer.echo(unified_diff(result.changes, result.root) or "Nothing to change.", nl=False)
        if not result.changes:
            typer.echo("")
        return
    if result.provisioned:
        typer.echo(f"Provisioned a project on {result.url}.")
    for change in result.changes:
        verb = "created" if change.created else "updated"
        typer.echo(f"  {verb} {change.path.relative_to(result.root)}: {change.why}")
    if not result.changes:
        typer.echo("Nothing to change: this app is set up already.")
    for hint in result.hints:
        typer.echo(f"  note: {hint}")
    if result.claim_url:
        typer.echo(
            f"\nClaim the project (a person opens this to see the data):\n  {result.claim_url}"
        )
    typer.echo("\nNext: agentlytics plan (events to track), then agentlytics verify.")


def verify(
    url: Url = None,
    key: Annotated[str | None, typer.Option("--key", help="The project write key.")] = None,
    json_out: Annotated[
        bool, typer.Option("--json", help="Print the server's JSON answer.")
    ] = False,
    dir: Dir = Path("."),
) -> None:
    """Say whether events and page views are arriving.

    Exits 0 when something arrived in the last 24 hours, 1 when nothing did, 2 on errors.
    """
    target = verifying.find_target(dir, url, key)
    if not target.write_key:
        raise _fail("no write key: run agentlytics init, or pass --key")
    try:
        snapshot = fetch_verify(target.url, target.write_key)
    except RemoteError as exc:
        raise _fail(str(exc)) from None
    arriving = verifying.arriving(snapshot)
    if json_out:
        typer.echo(json.dumps({**snapshot, "arriving": arriving}, indent=2))
    else:
        for line in verifying.describe(snapshot, target):
            typer.echo(line)
    if not arriving:
        raise typer.Exit(1)


def plan(
    dir: Dir = Path("."),
    json_out: Annotated[bool, typer.Option("--json", help="JSON for an agent.")] = False,
    apply: Annotated[
        Path | None,
        typer.Option(
            "--apply", help="Insert the track() calls of this (approved) plan file.", dir_okay=False
        ),
    ] = None,
    dry_run: DryRun = False,
) -> None:
    """Propose the events worth tracking, from the app's code.

    Reads the Python with ast, never runs it. --apply inserts an approved plan's calls.
    """
    if apply is None:
        events = propose(dir)
        if json_out:
            typer.echo(json.dumps(as_json(dir.resolve(), events), indent=2))
        else:
            typer.echo(as_markdown(dir, events), nl=False)
        return
    try:
        data = json.loads(apply.read_text())
        result = apply_plan(dir, data)
    except (OSError, ValueError) as exc:
        raise _fail(f"cannot apply {apply}: {exc}") from None
    root = dir.resolve()
    if dry_run:
        typer.echo(unified_diff(result.changes, root) or "Nothing to change.\n", nl=False)
    else:
        write(result.changes)
        for done in result.inserted:
            typer.echo(f"  inserted track() in {done}")
    for why in result.skipped:
        typer.echo(f"  skipped: {why}")
    if not result.inserted and not dry_run:
        typer.echo("Nothing to change.")
