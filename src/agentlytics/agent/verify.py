"""``agentlytics verify``: where the key comes from, and the ``/verify`` answer in words."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentlytics.agent.files import read_config, read_env, read_text
from agentlytics.agent.remote import DEFAULT_URL


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    write_key: str | None
    claim_url: str | None


def find_target(root: Path, url: str | None, key: str | None) -> Target:
    """Flags first, then ``.agentlytics.json``, the environment, and ``.env``."""
    config = read_config(root)
    env_file = read_env(read_text(root / ".env"))

    def pick(flag: str | None, config_key: str, env_name: str) -> str | None:
        value = flag or config.get(config_key) or os.environ.get(env_name) or env_file.get(env_name)
        return str(value) if value else None

    return Target(
        url=(pick(url, "url", "AGENTLYTICS_URL") or DEFAULT_URL).rstrip("/"),
        write_key=pick(key, "writeKey", "AGENTLYTICS_WRITE_KEY"),
        claim_url=config.get("claimUrl") if isinstance(config.get("claimUrl"), str) else None,
    )


def arriving(snapshot: dict[str, Any]) -> bool:
    return bool(snapshot["events"]["last24h"] or snapshot["pageviews"]["last24h"])


def _ago(now: int, ts: int) -> str:
    seconds = max(0, (now - ts) // 1000)
    if seconds < 60:
        return "just now" if seconds < 5 else f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _counts(block: dict[str, Any]) -> str:
    return (
        f"{block['last5m']} in the last 5 minutes, {block['last1h']} in the last hour, "
        f"{block['last24h']} in the last 24 hours"
    )


def describe(snapshot: dict[str, Any], target: Target) -> list[str]:
    """Plain sentences, the same for a person and an agent."""
    project, now = snapshot["project"], snapshot["now"]
    events, views = snapshot["events"], snapshot["pageviews"]
    if project["claimed"]:
        owner = "claimed"
    elif target.claim_url:
        owner = f"not claimed yet; claim it at {target.claim_url}"
    else:
        owner = "not claimed yet"
    lines = [
        f"Project {project['name']} on {target.url} ({owner}).",
        f"Events: {_counts(events)}.",
        f"Page views: {_counts(views)}.",
    ]
    if events["recent"]:
        recent = ", ".join(
            f"{e['name']} ({e['environment'] or 'unknown'}, {_ago(now, e['timestamp'])})"
            for e in events["recent"]
        )
        lines.append(f"Latest events: {recent}.")
    if views["recent"]:
        recent = ", ".join(
            f"{v['path'] or '(no path)'} ({v['environment'] or 'unknown'}, "
            f"{_ago(now, v['timestamp'])})"
            for v in views["recent"]
        )
        lines.append(f"Latest page views: {recent}.")
    if snapshot["environments"]:
        lines.append(f"Environments seen: {', '.join(snapshot['environments'])}.")
    if arriving(snapshot):
        total = events["last24h"] + views["last24h"]
        lines.append(f"OK: data is arriving ({_plural(total, 'event')} in the last 24 hours).")
    else:
        lines.append(
            "Nothing has arrived in the last 24 hours. Open a page that loads the tracker, or "
            "trigger an action that calls track(), then run agentlytics verify again."
        )
    return lines
