from __future__ import annotations

from agentlytics.settings import Settings
from agentlytics.storage.redis.coord import RedisCoordinator


def open_coordinator(url: str, settings: Settings) -> RedisCoordinator:
    return RedisCoordinator(url)
