"""Adapters from each wire format to :class:`~agentlytics.ingest.draft.Draft`, one module each."""
