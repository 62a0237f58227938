"""Setting up an app for agentlytics from its own directory, without running its code.

* ``init``: provision a project (or use a key), write the local config and env vars, and
  patch the app: the tracker script tag, the SDK dependency, MCP instrumentation, and the
  skill file coding agents read. Every patch is idempotent; a dry run shows the diff.
* ``plan``: read the app's Python with ``ast`` and propose the events worth tracking;
  ``apply_plan`` inserts the approved ``track()`` calls.
* ``verify``: say in words whether events are arriving.

The modules never execute the app: they read files and write text.
"""
