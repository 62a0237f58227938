"""Regenerate the parts of docs/ that come from the code; ``--check`` fails if they are stale.

* docs/configuration.md: the settings table (from ``agentlytics.settings``).
* docs/cli.md: each command's ``--help`` text (from the typer app).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))


def settings_table() -> str:
    from agentlytics.settings import setting_help

    rows = ["| setting | environment variable | default | what it does |", "|---|---|---|---|"]
    for name, (default, text) in setting_help().items():
        shown = (
            repr(default)
            if isinstance(default, str)
            else str(default).lower()
            if isinstance(default, bool)
            else str(default)
        )
        rows.append(f"| `{name}` | `AGENTLYTICS_{name.upper()}` | `{shown}` | {text} |")
    return "\n".join(rows)


def cli_reference() -> str:
    import typer
    from typer.testing import CliRunner

    from agentlytics.cli import app

    runner = CliRunner()
    click_app = typer.main.get_command(app)
    parts: list[str] = []

    def walk(command: object, path: list[str]) -> None:
        result = runner.invoke(
            app, [*path, "--help"], env={"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
        )
        title = " ".join(["agentlytics", *path])
        parts.append(f"### `{title}`\n\n```\n{result.output.rstrip()}\n```\n")
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(click_app, [])
    return "\n".join(parts)


def route_table() -> str:
    from agentlytics.api.routes import ENDPOINTS

    auth = {"api_key": "API key", "write_key": "write key", "none": "none"}
    rows = ["| method | path | what it does | auth |", "|---|---|---|---|"]
    for ep in ENDPOINTS:
        if ep.documented:
            who = auth[ep.auth] + (" (read)" if ep.read else "")
            rows.append(f"| `{ep.method}` | `{ep.path}` | {ep.summary} | {who} |")
    return "\n".join(rows)


BLOCKS = {
    ROOT / "docs" / "configuration.md": ("settings", settings_table),
    ROOT / "docs" / "cli.md": ("cli", cli_reference),
    ROOT / "docs" / "http-api.md": ("routes", route_table),
}


def render(path: Path, marker: str, content: str) -> str:
    text = path.read_text()
    pattern = re.compile(rf"(<!-- {marker}:start -->\n).*?(<!-- {marker}:end -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{path}: markers <!-- {marker}:start/end --> not found")
    return pattern.sub(lambda m: m.group(1) + content + "\n" + m.group(2), text)


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for path, (marker, make) in BLOCKS.items():
        new = render(path, marker, make())
        if new != path.read_text():
            if check:
                stale.append(str(path.relative_to(ROOT)))
            else:
                path.write_text(new)
                print(f"updated {path.relative_to(ROOT)}")
    if stale:
        print("stale generated docs (run: .venv/bin/python scripts/gen_docs.py):", *stale)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
