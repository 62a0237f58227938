"""Module-level helpers backed by one default `Client`, configured from the environment.

`AGENTLYTICS_WRITE_KEY` (required to send anything) and `AGENTLYTICS_URL` (default
`http://127.0.0.1:8720`). The client is built on first use; without a write key it is
disabled and says so once in the log.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from typing import Any

from agentlytics_sdk.client import DEFAULT_URL, Client, Timestamp

_client: Client | None = None
_lock = threading.Lock()


def get_client() -> Client:
    """The default client, built from the environment on first call."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = Client(
                    os.environ.get("AGENTLYTICS_WRITE_KEY"),
                    os.environ.get("AGENTLYTICS_URL") or DEFAULT_URL,
                )
    return _client


def track(
    name: str,
    user_id: str | None,
    props: Mapping[str, Any] | None = None,
    *,
    user_email: str | None = None,
    user_name: str | None = None,
    session_id: str | None = None,
    timestamp: Timestamp | None = None,
) -> None:
    """`Client.track` on the default client."""
    get_client().track(
        name,
        user_id,
        props,
        user_email=user_email,
        user_name=user_name,
        session_id=session_id,
        timestamp=timestamp,
    )


def identify(previous_id: str, user_id: str) -> None:
    """`Client.identify` on the default client."""
    get_client().identify(previous_id, user_id)


def flush(timeout: float | None = None) -> bool:
    """`Client.flush` on the default client."""
    return get_client().flush(timeout)


def shutdown(timeout: float | None = None) -> None:
    """`Client.shutdown` on the default client, if one was built; later helper calls are ignored."""
    if _client is not None:
        _client.shutdown(timeout)
