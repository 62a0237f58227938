"""The public API is an explicit, sorted list; changing it is a deliberate decision."""

from __future__ import annotations

import agentlytics_sdk
import agentlytics_sdk.mcp

PUBLIC_API = [
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


def test_all_is_sorted() -> None:
    assert agentlytics_sdk.__all__ == sorted(agentlytics_sdk.__all__)


def test_all_matches_the_snapshot() -> None:
    assert agentlytics_sdk.__all__ == PUBLIC_API


def test_every_exported_name_exists() -> None:
    for name in agentlytics_sdk.__all__:
        assert hasattr(agentlytics_sdk, name), name


def test_exported_objects_say_they_come_from_the_package() -> None:
    for name in agentlytics_sdk.__all__:
        module = getattr(getattr(agentlytics_sdk, name), "__module__", "agentlytics_sdk")
        assert module.startswith("agentlytics_sdk"), name


def test_the_mcp_module_exports_instrument_only() -> None:
    assert agentlytics_sdk.mcp.__all__ == ["instrument"]
