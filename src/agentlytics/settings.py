"""Every setting in one table: name, default, help.

A setting is read, lowest precedence first, from its default, a TOML file (``--config`` or
``AGENTLYTICS_CONFIG``), an ``AGENTLYTICS_<NAME>`` environment variable, and a command-line flag.
``docs/configuration.md`` documents each one; a test fails when one is missing there.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from agentlytics.errors import ConfigError

ENV_PREFIX = "AGENTLYTICS_"


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True, slots=True)
class Settings:
    """The server's configuration. Build one with :func:`load_settings`."""

    data_dir: str = _setting("./agentlytics-data", "Directory holding all embedded data.")
    host: str = _setting("127.0.0.1", "Interface to listen on.")
    port: int = _setting(8720, "TCP port to listen on.")
    workers: int = _setting(1, "Worker processes (more than 1 needs the scale-out backends).")
    public_url: str = _setting(
        "", "Public base URL used in claim links and snippets (default: from the request)."
    )
    events: str = _setting(
        "",
        "Event store URL: duckdb:///path.duckdb, clickhouse://…, chdb:///dir "
        "(default: DuckDB in data_dir).",
    )
    meta: str = _setting(
        "", "Metadata store URL: sqlite:///path.db or postgresql://… (default: SQLite in data_dir)."
    )
    coord: str = _setting(
        "memory://", "Coordination (rate limits, live fan-out): memory:// or redis://host:6379/0."
    )
    api_key: str = _setting(
        "", "Owner's full-scope API key, used only when the owner account is first created."
    )
    owner_email: str = _setting(
        "owner@localhost", "E-mail of the owner account made at first start."
    )
    log_level: str = _setting("info", "Log level: debug, info, warning, error.")
    ingest_rate_limit: int = _setting(
        1000, "Events per minute per project accepted at ingest (0 = unlimited)."
    )
    read_rate_limit: int = _setting(
        0,
        "API reads per minute per account, over every API key of it (0 = unlimited); "
        "the routes marked (read) in the HTTP API's route table count.",
    )
    mcp_rate_limit: int = _setting(120, "MCP tool calls per minute per account (0 = unlimited).")
    max_body_bytes: int = _setting(1_048_576, "Largest request body accepted, in bytes.")
    max_batch_size: int = _setting(100, "Most events in one batch request.")
    max_properties: int = _setting(100, "Most property keys on one event.")
    max_properties_bytes: int = _setting(32_768, "Largest encoded properties object, in bytes.")
    max_projects: int = _setting(1000, "Projects one account may own.")
    max_events_per_month: int = _setting(0, "Custom events per project per month (0 = unlimited).")
    retention_days: int = _setting(0, "Days events are kept (0 = forever).")
    stream_limit: int = _setting(10, "Concurrent /stream connections per account.")
    stream_heartbeat_s: float = _setting(30.0, "Seconds between SSE heartbeat comments on /stream.")
    stream_idle_timeout_s: float = _setting(
        1800.0, "A /stream connection closes after this many seconds without a matching event."
    )
    open_provisioning: bool = _setting(
        True, "Allow POST /api/provision to create unclaimed projects with no account."
    )
    provision_rate_global: int = _setting(10, "Provisions per minute, whole server.")
    provision_rate_per_ip: int = _setting(5, "Unclaimed projects per client IP per hour.")
    trust_proxy_headers: bool = _setting(
        False, "Take the client IP from X-Forwarded-For / CF-Connecting-IP (behind a proxy)."
    )
    geoip_db: str = _setting(
        "", "Path to a MaxMind GeoLite2-Country .mmdb file (default: the bundled offline database)."
    )
    group_commit_ms: float = _setting(
        0.0,
        "How long the writer waits to gather more concurrent events into one sync. 0: it "
        "takes what arrived while the last sync ran (best with the ingest journal); with "
        "ingest_journal off each DuckDB commit costs several ms of CPU and 5 pays.",
    )
    ingest_journal: bool = _setting(
        True,
        "Acknowledge events once they are synced to the ingest journal beside the DuckDB file "
        "and move them into DuckDB in larger transactions (reads always see them); off: one "
        "DuckDB commit per group of requests.",
    )
    journal_apply_ms: float = _setting(
        500.0,
        "How long journalled events may wait before the writer moves them into DuckDB "
        "(sooner when 20,000 have gathered, or when a query needs them).",
    )
    dedupe_window_days: int = _setting(
        7, "Event ids are remembered this long so client retries are stored once."
    )
    rollups: bool = _setting(
        True,
        "Keep hourly event-count rollups and answer count-only queries from them (DuckDB); "
        "off: always scan the events.",
    )
    secure_cookies: str = _setting(
        "auto", "Mark session cookies Secure: auto (when the request is HTTPS), always, never."
    )

    @property
    def events_url(self) -> str:
        return self.events or f"duckdb:///{Path(self.data_dir).resolve() / 'events.duckdb'}"

    @property
    def meta_url(self) -> str:
        return self.meta or f"sqlite:///{Path(self.data_dir).resolve() / 'meta.sqlite'}"


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings)]


def setting_help() -> dict[str, tuple[Any, str]]:
    """Each setting's default and help text, in declaration order."""
    return {f.name: (f.default, f.metadata["help"]) for f in fields(Settings)}


def _coerce(name: str, value: Any, default: Any) -> Any:
    kind = type(default)
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"setting {name!r} must be a {kind.__name__}, got {value!r}") from None


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> Settings:
    """Build Settings from defaults < TOML file < environment < overrides (CLI flags).

    Raises:
        ConfigError: an unknown key in the file, or a value of the wrong type.
    """
    env = os.environ if environ is None else environ
    defaults = setting_help()
    values: dict[str, Any] = {}
    path = config_file or env.get(ENV_PREFIX + "CONFIG")
    if path:
        try:
            data = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc}") from None
        for key, value in data.items():
            name = key.replace("-", "_")
            if name not in defaults:
                raise ConfigError(f"unknown setting {key!r} in {path}")
            values[name] = value
    for name in defaults:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is not None and raw != "":
            values[name] = raw
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
    return Settings(**{k: _coerce(k, v, defaults[k][0]) for k, v in values.items()})
