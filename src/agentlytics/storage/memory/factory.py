from __future__ import annotations

from agentlytics.settings import Settings
from agentlytics.storage.memory.coord import MemoryCoordinator


def open_coordinator(url: str, settings: Settings) -> MemoryCoordinator:
    return MemoryCoordinator()
