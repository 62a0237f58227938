"""The HTTP protocol ``agentlytics serve`` runs uvicorn with: one send per answer.

uvicorn writes an answer's status line and headers, then its body, each straight to the
socket: two sends, and on loopback two wake-ups of the client. ``OneSendProtocol`` gives
uvicorn's httptools protocol a transport that gathers what is written in one turn of the
event loop and sends it at the end of that turn, so an answer leaves in one send. Measured on
``bench.ingest`` (``docs/performance.md``, ingest, sixth round): about 10% less server CPU per
single event.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class OneSendTransport:
    """A transport whose writes in one turn of the event loop leave in one send."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)

    def writelines(self, data: Any) -> None:
        for chunk in data:
            self.write(chunk)

    def flush(self) -> None:
        """Send what was written since the last send."""
        if self._pending:
            data = b"".join(self._pending)
            self._pending.clear()
            self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # the rest is the transport's own
        return getattr(self._transport, name)


class OneSendProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a ``OneSendTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneSendTransport(transport, self.loop))  # type: ignore[arg-type]
