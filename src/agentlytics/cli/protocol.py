"""The HTTP protocol ``agentlytics serve`` runs uvicorn with: one send per answer.

uvicorn writes an answer's status line and headers, then its body, each straight to the
socket: two sends, and on loopback two wake-ups of the client. ``OneSendProtocol`` gives
uvicorn's httptools protocol a transport that holds a write back until the next one (then
sends both at once) or the end of the event loop's turn, so an answer leaves in one send,
and no later than it did.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class OneSendTransport:
    """A transport that sends a write together with the next one, or at the end of the
    event loop's turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._held = None
            self._transport.write(held + data)

    def writelines(self, data: Any) -> None:
        for chunk in data:
            self.write(chunk)

    def flush(self) -> None:
        """Send the write held back, if any."""
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # the rest is the transport's own
        return getattr(self._transport, name)


class OneSendProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol over a ``OneSendTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneSendTransport(transport, self.loop))  # type: ignore[arg-type]
