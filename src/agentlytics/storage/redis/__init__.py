"""Scale-out coordination on Redis: rate limits, stream slots and the live bus."""

from agentlytics.storage.redis.coord import RedisCoordinator

__all__ = ["RedisCoordinator"]
