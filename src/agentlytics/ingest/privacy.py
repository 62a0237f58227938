"""Cookieless visitor ids with a salt that rotates daily, and the client IP of a request.

``VisitorHasher.visitor_id`` follows Plausible: ``"v_" + hex(blake2b(key=salt_of_day,
data=project_id NUL ip NUL user_agent, digest_size=12))``. Each UTC day gets a random
32-byte salt. Only today's and yesterday's salts are kept (yesterday's so that a visit
spanning midnight can still be matched, see ``visitor_ids``); older salts are deleted, so
an old id can never be recomputed from an IP again. "Today" is the newest day seen, and a
``now`` older than yesterday hashes with yesterday's salt rather than resurrecting a
forgotten day.

Salts live behind two callables so that every worker agrees on them: ``load()`` returns
``{"YYYY-MM-DD": salt}`` and ``save(salts)`` stores exactly those days. ``save`` should keep
a salt another worker stored first for the same day (insert-if-absent); after saving, the
hasher loads again and adopts whatever the store holds, so racing workers converge. The
default keeps salts in memory (one process).

``client_ip`` is the only place a raw IP is produced; callers hash it and look up its
country, then drop it. It is never stored.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta

__all__ = ["SALT_BYTES", "VisitorHasher", "client_ip"]

SALT_BYTES = 32
_ONE_DAY = timedelta(days=1)


def _utc_day(now: datetime) -> date:
    # A naive datetime is taken to be UTC already.
    return now.astimezone(UTC).date() if now.tzinfo is not None else now.date()


def _parse_day(key: str) -> date | None:
    try:
        return date.fromisoformat(key)
    except ValueError:
        return None


class _MemorySalts:
    def __init__(self) -> None:
        self._salts: dict[str, bytes] = {}

    def load(self) -> dict[str, bytes]:
        return dict(self._salts)

    def save(self, salts: dict[str, bytes]) -> None:
        self._salts = dict(salts)


class VisitorHasher:
    """Daily-salted, cookieless visitor ids (thread-safe)."""

    def __init__(
        self,
        load: Callable[[], dict[str, bytes]] | None = None,
        save: Callable[[dict[str, bytes]], None] | None = None,
    ) -> None:
        if (load is None) != (save is None):
            raise ValueError("give both load and save, or neither")
        memory = _MemorySalts()
        self._load = load or memory.load
        self._save = save or memory.save
        self._lock = threading.Lock()
        self._salts: dict[date, bytes] = {}
        self._newest: date | None = None

    def visitor_id(
        self, project_id: str, ip: str | None, user_agent: str | None, now: datetime
    ) -> str:
        """The visitor id for this project, IP and UA on ``now``'s UTC day."""
        return _hash(self._salt(_utc_day(now)), project_id, ip, user_agent)

    def visitor_ids(
        self, project_id: str, ip: str | None, user_agent: str | None, now: datetime
    ) -> tuple[str, ...]:
        """Today's id, then yesterday's: match either to continue a visit across midnight."""
        today = _utc_day(now)
        current = self.visitor_id(project_id, ip, user_agent, now)
        salt = self._salts.get(today - _ONE_DAY)
        if salt is None or self._newest != today:
            return (current,)
        return (current, _hash(salt, project_id, ip, user_agent))

    def address_key(self, purpose: str, ip: str | None, now: datetime | None = None) -> str:
        """A key that tells client addresses apart for a rate limit (``purpose``: which),
        salted as visitor ids are: the coordination store (Redis, in scale-out) holds it
        instead of the address, which is never stored. It changes at midnight UTC, and a
        limit's count starts again then."""
        return self.visitor_id(purpose, ip, None, now or datetime.now(UTC))

    def _salt(self, day: date) -> bytes:
        newest = self._newest
        if newest is not None and day < newest - _ONE_DAY:
            day = newest - _ONE_DAY
        salt = self._salts.get(day)
        if salt is not None:
            return salt
        with self._lock:
            return self._salt_locked(day)

    def _salt_locked(self, day: date) -> bytes:
        stored = {d: s for k, s in self._load().items() if (d := _parse_day(k)) and s}
        newest = max([day, *stored])
        day = max(day, newest - _ONE_DAY)
        keep = {newest, newest - _ONE_DAY}
        kept = {d: s for d, s in stored.items() if d in keep}
        if day not in kept or len(kept) != len(stored):
            kept.setdefault(day, secrets.token_bytes(SALT_BYTES))
            self._save({d.isoformat(): s for d, s in kept.items()})
            # Adopt what the store holds: another worker may have saved this day first.
            reloaded = {d: s for k, s in self._load().items() if (d := _parse_day(k)) and s}
            kept |= {d: s for d, s in reloaded.items() if d in keep}
        self._salts = kept
        self._newest = newest
        return kept[day]


def _hash(salt: bytes, project_id: str, ip: str | None, user_agent: str | None) -> str:
    data = "\x00".join((project_id, ip or "", user_agent or ""))
    digest = hashlib.blake2b(data.encode("utf-8", "surrogatepass"), key=salt, digest_size=12)
    return "v_" + digest.hexdigest()


# The same few addresses (peers, proxies) arrive request after request: parse each once.
@functools.lru_cache(maxsize=4096)
def _parse_ip(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().strip('"')
    if value.startswith("["):  # "[2001:db8::1]:443"
        value = value[1 : value.find("]")] if "]" in value else ""
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    value = value.split("%", 1)[0]  # zone id: "fe80::1%eth0"
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def client_ip(headers: Mapping[str, str], peer: str | None, trust_proxy: bool) -> str | None:
    """The client's IP address, normalised, or None.

    With ``trust_proxy`` (we run behind a proxy or CDN that sets these headers), the first
    valid of ``cf-connecting-ip``, the first ``x-forwarded-for`` entry, and ``x-real-ip``;
    otherwise, or when none is valid, the socket peer. Header names are lowercase (ASGI).
    A client can forge these headers when the proxy passes them through; for analytics the
    worst outcome is a wrong country or visitor id for that client's own events.
    """
    if trust_proxy:
        forwarded = headers.get("x-forwarded-for")
        for candidate in (
            headers.get("cf-connecting-ip"),
            forwarded.split(",", 1)[0] if forwarded else None,
            headers.get("x-real-ip"),
        ):
            if (ip := _parse_ip(candidate)) is not None:
                return ip
    return _parse_ip(peer)
