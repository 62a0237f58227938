"""Planned file changes: computed first, then shown as a diff or written."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONFIG_FILE = ".agentlytics.json"


@dataclass(frozen=True, slots=True)
class Change:
    path: Path
    before: str | None  # None: the file does not exist yet
    after: str
    why: str

    @property
    def created(self) -> bool:
        return self.before is None


def read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def change(path: Path, after: str, why: str) -> Change | None:
    """A change to ``path`` when ``after`` differs from what is there now."""
    before = read_text(path)
    return None if before == after else Change(path, before, after, why)


def unified_diff(changes: list[Change], root: Path) -> str:
    parts: list[str] = []
    for c in changes:
        name = c.path.relative_to(root).as_posix() if c.path.is_relative_to(root) else str(c.path)
        parts.extend(
            difflib.unified_diff(
                (c.before or "").splitlines(keepends=True),
                c.after.splitlines(keepends=True),
                fromfile="/dev/null" if c.created else f"a/{name}",
                tofile=f"b/{name}",
            )
        )
    return "".join(p if p.endswith("\n") else p + "\n\\ No newline at end of file\n" for p in parts)


def write(changes: list[Change]) -> None:
    for c in changes:
        c.path.parent.mkdir(parents=True, exist_ok=True)
        c.path.write_text(c.after, encoding="utf-8")


# small text edits ------------------------------------------------------------------------


def with_line(text: str | None, line: str, present: re.Pattern[str] | None = None) -> str:
    """``text`` with ``line`` appended unless it (or a line matching ``present``) is there."""
    text = text or ""
    lines = text.splitlines()
    if line in (x.strip() for x in lines) or (present and any(present.match(x) for x in lines)):
        return text
    if text and not text.endswith("\n"):
        text += "\n"
    return text + line + "\n"


def with_env(text: str | None, values: dict[str, str]) -> str:
    """A ``.env`` file with each ``NAME=value`` set: appended, or changed in place."""
    lines = (text or "").splitlines()
    for name, value in values.items():
        pattern = re.compile(rf"^\s*(export\s+)?{re.escape(name)}\s*=")
        found = [i for i, line in enumerate(lines) if pattern.match(line)]
        if not found:
            lines.append(f"{name}={value}")
            continue
        current = lines[found[-1]].split("=", 1)[1].strip().strip("'\"")
        if current != value:
            lines[found[-1]] = f"{name}={value}"
    return "\n".join(lines) + "\n" if lines else ""


def read_env(text: str | None) -> dict[str, str]:
    values = {}
    for line in (text or "").splitlines():
        match = re.match(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$", line)
        if match:
            values[match.group(1)] = match.group(2).strip().strip("'\"")
    return values


def read_config(root: Path) -> dict[str, Any]:
    """``.agentlytics.json`` as a dict ({} when missing or unreadable)."""
    text = read_text(root / CONFIG_FILE)
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def config_text(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2) + "\n"
