"""A bounded memory of recent event ids, so a retried event is stored once.

Keys are 64-bit hashes of (project, event id); the oldest are forgotten first. Backends warm
it at start-up from the events received within the dedupe window, so retries across a
restart are caught too.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

DEFAULT_CAPACITY = 2_000_000


def id_key(project_id: str, event_id: str) -> int:
    digest = hashlib.blake2b(f"{project_id}\x00{event_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


class RecentIds:
    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        self.capacity = capacity
        self._keys: OrderedDict[int, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: int) -> bool:
        return key in self._keys

    def add(self, key: int) -> bool:
        """Remember a key; False if it was already known."""
        if key in self._keys:
            return False
        self._keys[key] = None
        if len(self._keys) > self.capacity:
            self._keys.popitem(last=False)
        return True

    def discard(self, key: int) -> None:
        self._keys.pop(key, None)
