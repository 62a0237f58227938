"""What `on_error(exc, batch)` receives. The SDK never raises these into your code.

    DeliveryError                 an event could not be (or was not) delivered
    ├── APIError                  the server answered with a non-2xx status
    ├── EventsRejected            the server accepted the batch but refused some events in it
    ├── QueueFull                 the local queue was full; the event was dropped at once
    ├── InvalidEvent              the event was malformed or too large; dropped before sending
    └── ShutdownError             the client shut down before the batch could be delivered

Network failures reach `on_error` as the `httpx.TransportError` of the last attempt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class DeliveryError(Exception):
    """Base class of every error the SDK reports through `on_error`."""


class APIError(DeliveryError):
    """The server answered with a non-2xx status (after any retries)."""

    def __init__(self, status: int, body: str, retry_after: float | None = None) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status
        self.body = body
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """408, 429 and 5xx are worth retrying; any other 4xx never is."""
        return self.status in (408, 429) or self.status >= 500


class EventsRejected(DeliveryError):
    """The server stored the batch but rejected these events; they are not retried."""

    def __init__(self, rejected: Sequence[Mapping[str, Any]]) -> None:
        reasons = ", ".join(str(r.get("error", "?")) for r in rejected[:5])
        super().__init__(f"{len(rejected)} event(s) rejected: {reasons}")
        self.rejected = list(rejected)


class QueueFull(DeliveryError):
    """The in-memory queue held `max_queue_size` items; the new item was dropped."""


class InvalidEvent(DeliveryError):
    """The event could not be sent as given (bad field, not JSON-encodable, or too large)."""


class ShutdownError(DeliveryError):
    """The client shut down while the batch was still waiting to be retried."""
