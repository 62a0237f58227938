"""In-process coordination for the embedded mode (one process)."""

from agentlytics.storage.memory.coord import MemoryCoordinator

__all__ = ["MemoryCoordinator"]
