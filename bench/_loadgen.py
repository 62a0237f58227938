"""A cheap HTTP/1.1 load generator: asyncio protocols over keep-alive loopback connections.

It runs in its own process (``generate`` is the process entry point) so that it shares the
machine with the server but not the server's interpreter. It is built to cost little CPU:
request bodies are byte templates with a fixed-width counter patched in, responses are parsed
only as far as the status line, ``content-length`` and (for batches) the accepted count.
Every run stops by itself at ``seconds`` or ``max_events``, whichever comes first.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

_COUNT = re.compile(rb'"count":(\d+)')
_PLACEHOLDER = b"#########"  # 9 digits of request number, unique per run and process

PAGES = [b"/", b"/pricing", b"/docs", b"/blog/launch", b"/docs/install", b"/signup"]
REFERRERS = [b"https://www.google.com/", b"https://news.ycombinator.com/", b""]
BROWSER_UA = (
    b"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 "
    b"(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


@dataclass(frozen=True)
class LoadSpec:
    host: str
    port: int
    token: str
    run_id: str
    mode: str  # "single" | "batch"
    concurrency: int
    seconds: float
    max_events: int
    batch_size: int = 100
    browser: bool = False


@dataclass
class LoadResult:
    requests: int = 0
    acknowledged: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0


def _event(spec: LoadSpec, i: int) -> bytes:
    """One event object with the request placeholder in its id (and ids unique per slot)."""
    path = PAGES[i % len(PAGES)]
    ref = REFERRERS[i % len(REFERRERS)]
    if i % 10 == 9:
        return (
            b'{"event":"$mcp_call","id":"%s-' + _PLACEHOLDER + b'-%d","user_id":"agent-%d",'
            b'"primitive_type":"tool","primitive_name":"search_docs","latency_ms":%d,'
            b'"success":true,"properties":{"tool":"search_docs"}}'
        ) % (spec.run_id.encode(), i, i % 7, 20 + i)
    return (
        b'{"event":"page_view","id":"%s-' + _PLACEHOLDER + b'-%d","anonymous_id":"v-%d",'
        b'"session_id":"s-' + _PLACEHOLDER + b'","properties":{"path":"%s",'
        b'"url":"https://example.com%s?utm_source=bench","referrer":"%s","plan":"free"}}'
    ) % (spec.run_id.encode(), i, i % 97, path, path, ref)


def _request(spec: LoadSpec) -> tuple[bytes, bytes]:
    """The header and body templates of the requests this spec sends."""
    token = spec.token.encode()
    if spec.mode == "single":
        ev = _event(spec, 0)
        body = b'{"token":"' + token + b'",' + ev[1:]
        path = b"/track"
    else:
        events = b",".join(_event(spec, i) for i in range(spec.batch_size))
        body = b'{"token":"' + token + b'","events":[' + events + b"]}"
        path = b"/track/batch"
    headers = [
        b"POST " + path + b" HTTP/1.1",
        b"Host: " + spec.host.encode() + b":%d" % spec.port,
        b"Content-Length: %d" % len(body),
    ]
    if spec.browser:
        headers += [
            b"Content-Type: text/plain;charset=UTF-8",
            b"Origin: https://example.com",
            b"User-Agent: " + BROWSER_UA,
        ]
    else:
        headers += [b"Content-Type: application/json", b"User-Agent: bench/1.0"]
    return b"\r\n".join(headers) + b"\r\n\r\n", body


class _Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.transport: asyncio.Transport | None = None
        self.lost: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = exc or ConnectionError("connection closed")
        if self.waiter and not self.waiter.done():
            self.waiter.set_exception(self.lost)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        at = head.find(b"content-length:")
        nl = head.find(b"\r\n", at)
        length = int(head[at + 15 : nl if nl >= 0 else len(head)]) if at >= 0 else 0
        if len(self.buf) < end + 4 + length:
            return
        status = int(head[9:12])
        body = bytes(self.buf[end + 4 : end + 4 + length])
        del self.buf[: end + 4 + length]
        if self.waiter and not self.waiter.done():
            self.waiter.set_result((status, body))

    async def send(self, data: bytes) -> tuple[int, bytes]:
        if self.lost or self.transport is None:
            raise self.lost or ConnectionError("not connected")
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


async def _run(spec: LoadSpec, result: LoadResult) -> None:
    loop = asyncio.get_running_loop()
    head, body = _request(spec)
    per_request = 1 if spec.mode == "single" else spec.batch_size
    max_requests = max(1, spec.max_events // per_request)
    state = {"next": 0}
    start = time.perf_counter()
    deadline = start + spec.seconds
    lat = result.latencies_ms

    async def worker() -> None:
        _, conn = await loop.create_connection(_Conn, spec.host, spec.port)
        try:
            while True:
                n = state["next"]
                if n >= max_requests or time.perf_counter() >= deadline:
                    return
                state["next"] = n + 1
                data = head + body.replace(_PLACEHOLDER, b"%09d" % n)
                t0 = time.perf_counter()
                try:
                    status, answer = await conn.send(data)
                except (ConnectionError, OSError) as exc:
                    key = type(exc).__name__
                    result.errors[key] = result.errors.get(key, 0) + 1
                    return
                lat.append((time.perf_counter() - t0) * 1000)
                result.requests += 1
                if status == 202:
                    if per_request == 1:
                        result.acknowledged += 1
                    else:
                        m = _COUNT.search(answer)
                        result.acknowledged += int(m.group(1)) if m else 0
                else:
                    key = str(status)
                    result.errors[key] = result.errors.get(key, 0) + 1
        finally:
            if conn.transport is not None:
                conn.transport.close()

    await asyncio.gather(*(worker() for _ in range(spec.concurrency)))
    result.elapsed_s = time.perf_counter() - start


def generate(spec: LoadSpec, out: Any) -> None:
    """Process entry point: run the load and put a JSON summary on the ``out`` queue."""
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop ships with uvicorn[standard]
        runner = asyncio.run
    result = LoadResult()
    cpu0 = time.process_time()
    try:
        runner(_run(spec, result))
    except Exception as exc:  # report it to the parent rather than leave it waiting
        result.errors[f"generator: {exc!r}"] = 1
    result.cpu_s = time.process_time() - cpu0
    out.put(json.dumps(result.__dict__))
