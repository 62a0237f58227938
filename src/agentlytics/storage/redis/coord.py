"""Coordinator on Redis, shared by every worker: the memory coordinator's semantics, made atomic.

* ``hit``: a fixed window per key in one hash, checked and charged by a Lua script, so a whole
  batch is admitted or refused at once across workers. Windows follow the Redis clock, so
  workers with drifting clocks still share one window.
* slots: a sorted set per key, scored by expiry; expired members are dropped before counting.
* the live bus: a Redis Stream per project (``XADD MAXLEN ~ 10000``). Stream ids are the event
  ids handed to subscribers, so ``Last-Event-ID`` resumes with ``XREAD`` from that id on any
  worker; ``recent`` reads the last five minutes and trims what is older.

The URL is a redis-py URL; a ``prefix`` query parameter namespaces the keys (default
``agentlytics:``), e.g. ``redis://127.0.0.1:6379/0?prefix=site-a:``, and ``socket_timeout``
(seconds, default 10) also bounds how long one blocking read of a subscriber waits.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import redis.asyncio as redis

from agentlytics.storage.ports import RateDecision

LIVE_WINDOW_MS = 5 * 60 * 1000
LIVE_MAX_EVENTS = 10_000
LIVE_IDLE_TTL_S = 24 * 3600  # a project's stream disappears after a day without events
DEFAULT_PREFIX = "agentlytics:"
DEFAULT_SOCKET_TIMEOUT_S = 10.0
_STREAM_ID = re.compile(r"(\d+)-(\d+)")

# KEYS[1] = window hash; ARGV = cost, limit, window ms. Returns {allowed, count, reset_at_ms}.
_HIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cost, limit, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local start = now - now % window
local count = 0
if tonumber(redis.call('HGET', KEYS[1], 's')) == start then
  count = tonumber(redis.call('HGET', KEYS[1], 'c'))
end
if count + cost > limit then
  return {0, count, start + window}
end
redis.call('HSET', KEYS[1], 's', start, 'c', count + cost)
redis.call('PEXPIREAT', KEYS[1], start + window + 1000)
return {1, count + cost, start + window}
"""

# KEYS[1] = slot set; ARGV = limit, ttl ms, token. Returns 1 when the slot was taken.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], tonumber(last[2]))
return 1
"""


def _split_url(url: str) -> tuple[str, str, float]:
    """The redis-py URL without our parameters, the key prefix and the socket timeout."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = dict(query)
    prefix = ours.get("prefix", DEFAULT_PREFIX)
    timeout = float(ours.get("socket_timeout") or DEFAULT_SOCKET_TIMEOUT_S)
    rest = urlencode([(k, v) for k, v in query if k not in ("prefix", "socket_timeout")])
    return urlunsplit(parts._replace(query=rest)), prefix, timeout


Entry = tuple[str, dict[str, str]]


def _entries(reply: object) -> list[Entry]:
    return cast(list[Entry], reply or [])


def _streams(reply: object) -> list[tuple[str, list[Entry]]]:
    """XREAD's reply as (stream, entries) pairs, in RESP2 (list) or RESP3 (map) shape."""
    if isinstance(reply, dict):
        # redis-py shapes a RESP3 reply as {stream: [[entries]]}
        return [(k, _entries(v[0] if v else v)) for k, v in reply.items()]
    return [(k, _entries(v)) for k, v in cast(list[tuple[str, Any]], reply or [])]


def _id_key(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq)


class RedisCoordinator:
    def __init__(self, url: str) -> None:
        redis_url, self.prefix, timeout = _split_url(url)
        self._redis: redis.Redis = redis.from_url(
            redis_url, decode_responses=True, socket_timeout=timeout
        )
        self._hit = self._redis.register_script(_HIT)
        self._acquire = self._redis.register_script(_ACQUIRE)
        # a blocking XREAD must return before the socket timeout fires
        self._block_ms = max(100, int(timeout * 1000) - 1000)

    def _key(self, kind: str, name: str) -> str:
        return f"{self.prefix}{kind}:{name}"

    # rate limits and slots ----------------------------------------------------------------

    async def hit(self, key: str, cost: int, limit: int, window_s: int) -> RateDecision:
        reply = await self._hit(keys=[self._key("rate", key)], args=[cost, limit, window_s * 1000])
        allowed, count, reset_at = (int(v) for v in cast(list[Any], reply))
        return RateDecision(allowed=bool(allowed), count=count, limit=limit, reset_at_ms=reset_at)

    async def acquire_slot(self, key: str, limit: int, ttl_s: int) -> str | None:
        token = uuid.uuid4().hex
        taken = await self._acquire(
            keys=[self._key("slots", key)], args=[limit, ttl_s * 1000, token]
        )
        return token if int(cast(int, taken)) else None

    async def release_slot(self, key: str, token: str) -> None:
        await self._redis.zrem(self._key("slots", key), token)

    # the live bus -------------------------------------------------------------------------

    async def publish(self, project_id: str, events: Sequence[dict[str, Any]]) -> None:
        if not events:
            return
        key = self._key("live", project_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.xadd(key, {"e": json.dumps(event)}, maxlen=LIVE_MAX_EVENTS, approximate=True)
            pipe.expire(key, LIVE_IDLE_TTL_S)
            await pipe.execute()

    async def recent(self, project_id: str, since_ms: int) -> list[dict[str, Any]]:
        key = self._key("live", project_id)
        cutoff = int(time.time() * 1000) - LIVE_WINDOW_MS
        floor = max(since_ms, cutoff)
        await self._redis.xtrim(key, minid=f"{cutoff}-0", approximate=True)
        newest_first = await self._redis.xrevrange(
            key, max="+", min=f"{max(floor, 0)}-0", count=LIVE_MAX_EVENTS
        )
        entries = _entries(newest_first)
        return [json.loads(fields["e"]) for _, fields in reversed(entries)]

    async def subscribe(
        self, project_id: str, last_id: str | None = None
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        key = self._key("live", project_id)
        newest = _entries(await self._redis.xrevrange(key, count=1))
        cursor = newest[0][0] if newest else "0-0"
        # like the memory bus: a malformed id, or one from the future, means "from now on"
        if (
            last_id is not None
            and _STREAM_ID.fullmatch(last_id)
            and _id_key(last_id) < _id_key(cursor)
        ):
            cursor = last_id
        while True:
            reply = await self._redis.xread({key: cursor}, block=self._block_ms, count=1000)
            for _stream, entries in _streams(reply):
                for entry_id, fields in entries:
                    cursor = entry_id
                    yield entry_id, json.loads(fields["e"])

    async def close(self) -> None:
        await self._redis.aclose()
