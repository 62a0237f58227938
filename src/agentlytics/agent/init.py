"""``agentlytics init``: provision (or reuse) a project and patch the app to use it.

Every change is computed before anything is written, so ``--dry-run`` can print them as a
diff, and a second run finds nothing to change.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentlytics.agent import patches, remote
from agentlytics.agent.detect import MCP_HIGH_LEVEL, AppInfo, detect
from agentlytics.agent.files import (
    CONFIG_FILE,
    Change,
    change,
    config_text,
    read_config,
    read_env,
    read_text,
    with_env,
    with_line,
    write,
)
from agentlytics.agent.skill import AGENTS_MARKER, AGENTS_SECTION, SKILL_MD, SKILL_PATH

PLACEHOLDER_KEY = "aat_PROVISIONED_ON_RUN"
_IGNORED = re.compile(r"^/?\.agentlytics\.json\s*$")


@dataclass
class InitResult:
    root: Path
    app: AppInfo
    url: str
    write_key: str
    claim_url: str | None
    slug: str
    provisioned: bool
    changes: list[Change] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)


def resolve_url(root: Path, flag: str | None, config: dict[str, Any]) -> str:
    """``--url``, else the config file's, else ``AGENTLYTICS_URL`` (environment, then
    ``.env``), else the default local server."""
    env_file = read_env(read_text(root / ".env"))
    url = (
        flag
        or config.get("url")
        or os.environ.get("AGENTLYTICS_URL")
        or env_file.get("AGENTLYTICS_URL")
        or remote.DEFAULT_URL
    )
    return str(url).rstrip("/")


def _git_origin(root: Path) -> str | None:
    text = read_text(root / ".git" / "config") or ""
    match = re.search(r'\[remote "origin"\][^\[]*?url\s*=\s*(\S+)', text)
    return match.group(1) if match else None


def deployment_slug(root: Path) -> str:
    """A stable id for this app: provisioning again with it returns the same project, even
    when ``.agentlytics.json`` was lost. From the git remote, else the directory's path."""
    identity = _git_origin(root) or str(root.resolve())
    name = re.sub(r"[^a-z0-9]+", "-", root.name.lower()).strip("-")[:40] or "app"
    return f"{name}-{hashlib.sha256(identity.encode()).hexdigest()[:10]}"


def _html_change(app: AppInfo, url: str, key: str, hints: list[str]) -> Change | None:
    target = app.base_template or app.index_html
    if target is None:
        if app.frameworks:
            tag = patches.script_tag(url, key)
            hints.append(f"No base HTML template found: add {tag} to your pages' <head>.")
        return None
    text = read_text(target) or ""
    patched = patches.add_script_tag(text, url, key)
    if patched == text and "/script.js?key=" not in text:
        hints.append(f"{target.relative_to(app.root)} has no </head>: add the tracker by hand.")
    return change(target, patched, "the tracker script (page views, window.aa.track)")


def _dependency_change(app: AppInfo, hints: list[str]) -> Change | None:
    if not (app.frameworks or app.mcp_servers):
        return None
    if app.requirements is not None:
        text = read_text(app.requirements) or ""
        return change(app.requirements, patches.add_requirement(text), "the Python SDK")
    if app.pyproject is not None:
        text = read_text(app.pyproject) or ""
        patched = patches.add_pyproject_dependency(text)
        if patched is not None:
            return change(app.pyproject, patched, "the Python SDK")
    hints.append(f"Add {patches.SDK} to your Python dependencies (pip install {patches.SDK}).")
    return None


def _mcp_changes(app: AppInfo, hints: list[str]) -> list[Change]:
    changes, done = [], set()
    for server in app.mcp_servers:
        rel = server.path.relative_to(app.root)
        if server.kind not in MCP_HIGH_LEVEL:
            hints.append(
                f"{rel}: call agentlytics_sdk.mcp.instrument({server.variable}) after its "
                "handlers are registered, to record every call of this low-level server."
            )
            continue
        if server.path in done:
            hints.append(f"{rel}: also instrument {server.variable} (one server per file is).")
            continue
        done.add(server.path)
        text = read_text(server.path) or ""
        patched = patches.add_mcp_instrument(text, server.variable, server.line, server.col)
        found = change(server.path, patched, f"instrument({server.variable}): MCP calls")
        if found:
            changes.append(found)
    return changes


def plan_changes(
    app: AppInfo, url: str, key: str, claim_url: str | None, slug: str
) -> tuple[list[Change], list[str]]:
    root, hints = app.root, list[str]()
    config = read_config(root)
    if claim_url is None and config.get("writeKey") == key:
        claim_url = config.get("claimUrl")
    data = {"writeKey": key, "claimUrl": claim_url, "url": url, "slug": slug}
    candidates: list[Change | None] = [
        change(root / CONFIG_FILE, config_text(data), "write key, server URL, claim URL"),
        change(
            root / ".gitignore",
            with_line(read_text(root / ".gitignore"), CONFIG_FILE, _IGNORED),
            f"keep {CONFIG_FILE} (its claim URL) out of git",
        ),
        change(
            root / ".env",
            with_env(
                read_text(root / ".env"), {"AGENTLYTICS_WRITE_KEY": key, "AGENTLYTICS_URL": url}
            ),
            "AGENTLYTICS_WRITE_KEY and AGENTLYTICS_URL for the SDK",
        ),
        _html_change(app, url, key, hints),
        _dependency_change(app, hints),
        *_mcp_changes(app, hints),
    ]
    skill = root / SKILL_PATH
    if not skill.exists():
        candidates.append(change(skill, SKILL_MD, "how coding agents add and check events"))
    agents = root / "AGENTS.md"
    agents_text = read_text(agents)
    if agents_text is not None and AGENTS_MARKER not in agents_text:
        sep = "" if agents_text.endswith("\n") else "\n"
        candidates.append(change(agents, agents_text + sep + AGENTS_SECTION, "point to the skill"))
    return [c for c in candidates if c is not None], hints


def run_init(
    root: Path, *, write_key: str | None = None, url: str | None = None, dry_run: bool = False
) -> InitResult:
    """Work out and (unless ``dry_run``) write every change.

    Raises:
        RemoteError: provisioning was needed and the server refused or was unreachable.
    """
    root = root.resolve()
    config = read_config(root)
    server = resolve_url(root, url, config)
    slug = str(config.get("slug") or deployment_slug(root))
    claim_url: str | None = None
    provisioned = False
    same_server = str(config.get("url", "")).rstrip("/") == server
    if write_key:
        key = write_key
    elif config.get("writeKey") and same_server:
        key = str(config["writeKey"])
    elif dry_run:
        key = PLACEHOLDER_KEY
    else:
        made = remote.provision(server, root.name, slug)
        key, claim_url, provisioned = made["writeKey"], made["claimUrl"], True
    app = detect(root)
    changes, hints = plan_changes(app, server, key, claim_url, slug)
    if not dry_run:
        write(changes)
    final = read_config(root) if not dry_run else {}
    return InitResult(
        root=root,
        app=app,
        url=server,
        write_key=key,
        claim_url=claim_url or final.get("claimUrl") or config.get("claimUrl"),
        slug=slug,
        provisioned=provisioned,
        changes=changes,
        hints=hints,
    )
