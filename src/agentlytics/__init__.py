"""agentlytics: self-hosted, agent-first analytics."""

__version__ = "0.1.0"
