"""``agentlytics serve``'s HTTP protocol (``cli/protocol.py``): a write leaves with the next one
or at the end of the event loop's turn, so an answer is one send; answers stay whole and in order."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from agentlytics.cli.protocol import OneSendTransport
from tests.conftest import RunningServer


class _Recorded(asyncio.Transport):
    """A transport that keeps each send (asyncio's own, which raises on writes)."""

    def __init__(self) -> None:
        super().__init__()
        self.sends: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> None:
        self.sends.append(bytes(data))

    def close(self) -> None:
        self.closed = True


def test_a_write_leaves_with_the_next_one_or_at_the_end_of_the_turn() -> None:
    async def run() -> _Recorded:
        inner = _Recorded()
        transport = OneSendTransport(inner, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 202 Accepted\r\n\r\n")
        assert inner.sends == [], "held back"
        transport.write(b"{}")
        assert inner.sends == [b"HTTP/1.1 202 Accepted\r\n\r\n{}"], "sent with the next"
        transport.write(b"a chunk")
        await asyncio.sleep(0)
        assert inner.sends[1:] == [b"a chunk"], "or at the end of the turn"
        transport.writelines([b"last", b" one"])
        transport.close()  # sends what is held first
        return inner

    inner = asyncio.run(run())
    assert inner.sends[2:] == [b"last one"]
    assert inner.closed


def _read_answers(sock: socket.socket, count: int) -> list[bytes]:
    data = b""
    answers: list[bytes] = []
    while len(answers) < count:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection early"
        data += chunk
        while b"\r\n\r\n" in data:
            head, rest = data.split(b"\r\n\r\n", 1)
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            if len(rest) < length:
                break
            answers.append(head + b"\r\n\r\n" + rest[:length])
            data = rest[length:]
    return answers


def test_pipelined_requests_get_whole_answers_in_order(server: RunningServer) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        missing = b"GET /no-such-page HTTP/1.1\r\nHost: x\r\n\r\n"
        sock.sendall(request + missing + request)
        answers = _read_answers(sock, 3)
        assert [a.split(b" ", 2)[1] for a in answers] == [b"200", b"404", b"200"]
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        [last] = _read_answers(sock, 1)
        assert last.startswith(b"HTTP/1.1 200") and sock.recv(1) == b"", "then it closes"
