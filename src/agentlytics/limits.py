"""Fixed-window limits on the coordinator's counters, charged one way by every surface: the
ingest limit per project, the read and MCP limits per account, open provisioning.

The coordinator holds the counts (in memory, or in Redis so that every process of a
scale-out deployment shares them); a charge over the limit raises ``RateLimited`` with the
seconds until the window resets, which each surface answers in its own contract's shape.
"""

from __future__ import annotations

import math
import time
from typing import Any

from agentlytics.errors import RateLimited
from agentlytics.storage.ports import Coordinator


async def charge(
    coord: Coordinator,
    key: str,
    limit: int,
    window_s: int,
    message: str,
    *,
    cost: int = 1,
    **error: Any,
) -> None:
    """Count ``cost`` against ``key``'s ``limit`` per ``window_s`` (a limit of 0 or less is
    off), all or nothing.

    Raises:
        RateLimited: over the limit; its message is ``message`` with ``{limit}`` and
            ``{retry}`` (seconds until the window resets) filled in, and ``error`` (a
            ``code``, a ``reason``) passed on; it carries the window's ``remaining`` too.
    """
    if limit <= 0 or cost <= 0:
        return
    decision = await coord.hit(key, cost, limit, window_s)
    if decision.allowed:
        return
    retry = max(1, math.ceil((decision.reset_at_ms - time.time() * 1000) / 1000))
    raise RateLimited(
        message.format(limit=limit, retry=retry),
        retry_after=retry,
        reset_at_ms=decision.reset_at_ms,
        remaining=decision.remaining,
        **error,
    )
