"""The one ingest pipeline every surface ends in."""
