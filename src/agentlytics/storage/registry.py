"""Pick a storage adapter from a URL. The only place that knows which engines exist."""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from agentlytics.errors import ConfigError
from agentlytics.settings import Settings
from agentlytics.storage.ports import Coordinator, EventStore, MetaStore

# scheme -> "module:factory"; factories take (url, settings)
EVENT_STORES = {
    "duckdb": "agentlytics.storage.duckdb.factory:open_store",
    "clickhouse": "agentlytics.storage.clickhouse.factory:open_store",
    "clickhouses": "agentlytics.storage.clickhouse.factory:open_store",
    "http": "agentlytics.storage.clickhouse.factory:open_store",
    "https": "agentlytics.storage.clickhouse.factory:open_store",
    "chdb": "agentlytics.storage.clickhouse.factory:open_store",
}
META_STORES = {
    "sqlite": "agentlytics.storage.sqlite.factory:open_store",
    "postgresql": "agentlytics.storage.postgres.factory:open_store",
    "postgres": "agentlytics.storage.postgres.factory:open_store",
}
COORDINATORS = {
    "memory": "agentlytics.storage.memory.factory:open_coordinator",
    "redis": "agentlytics.storage.redis.factory:open_coordinator",
    "rediss": "agentlytics.storage.redis.factory:open_coordinator",
}


def _load(table: dict[str, str], url: str, what: str) -> object:
    scheme = urlsplit(url).scheme
    target = table.get(scheme)
    if target is None:
        raise ConfigError(
            f"unsupported {what} URL {url!r}; use one of: "
            + ", ".join(f"{s}://" for s in sorted(table))
        )
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"the {scheme}:// {what} needs extra packages ({exc.name}); "
            "install them with: pip install 'agentlytics[scale]'"
        ) from None
    return getattr(module, attr)


def open_event_store(settings: Settings) -> EventStore:
    factory = _load(EVENT_STORES, settings.events_url, "event store")
    return factory(settings.events_url, settings)  # type: ignore[operator,no-any-return]


def open_meta_store(settings: Settings) -> MetaStore:
    factory = _load(META_STORES, settings.meta_url, "metadata store")
    return factory(settings.meta_url, settings)  # type: ignore[operator,no-any-return]


def open_coordinator(settings: Settings) -> Coordinator:
    factory = _load(COORDINATORS, settings.coord, "coordinator")
    return factory(settings.coord, settings)  # type: ignore[operator,no-any-return]


def url_path(url: str) -> str:
    """The file path of a ``scheme:///abs/path`` or ``scheme://rel/path`` URL."""
    parts = urlsplit(url)
    return (parts.netloc + parts.path) if parts.netloc else parts.path
