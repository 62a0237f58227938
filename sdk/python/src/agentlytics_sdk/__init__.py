"""Agentlytics for Python back ends and MCP servers: `track()` that never raises or blocks.

    from agentlytics_sdk import Client
    client = Client("aat_…", "http://127.0.0.1:8720")
    client.track("signup", "user-42", {"plan": "pro"})

The MCP instrumentation lives in `agentlytics_sdk.mcp` (install the `mcp` extra).
"""

from agentlytics_sdk.client import Client
from agentlytics_sdk.default import flush, get_client, identify, shutdown, track
from agentlytics_sdk.errors import (
    APIError,
    DeliveryError,
    EventsRejected,
    InvalidEvent,
    QueueFull,
    ShutdownError,
)
from agentlytics_sdk.variant import assign_variant

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "Client",
    "DeliveryError",
    "EventsRejected",
    "InvalidEvent",
    "QueueFull",
    "ShutdownError",
    "__version__",
    "assign_variant",
    "flush",
    "get_client",
    "identify",
    "shutdown",
    "track",
]
