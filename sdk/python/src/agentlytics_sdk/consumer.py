"""The daemon thread that drains the queue: batch by count, bytes and time; retry; report.

Queue items are `("event", dict)` or `("identify", dict)`, plus two sentinels: `FLUSH` (send
what you have now) and `STOP` (send what you have, then exit). Every `get()` is matched by
exactly one `task_done()` once its item is delivered, reported or dropped, so
`Queue.join()`-style waiting in `Client.flush()` means "everything enqueued so far is settled".
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Final, Literal

import httpx

from agentlytics_sdk.encoding import encode
from agentlytics_sdk.errors import APIError, EventsRejected, InvalidEvent, ShutdownError

log = logging.getLogger("agentlytics_sdk")

Kind = Literal["event", "identify"]
Item = tuple[Kind, dict[str, Any]]


THREAD_NAME: Final = "agentlytics-consumer"


class _DemoteConsumerRequests(logging.Filter):
    """httpx logs each request at INFO; the consumer's are routine, so they count as DEBUG.

    Without this, an app logging at INFO (MCPServer's default) gets a line per batch.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if record.threadName == THREAD_NAME and record.levelno == logging.INFO:
            if not _httpx_log.isEnabledFor(logging.DEBUG):
                return False
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


_httpx_log = logging.getLogger("httpx")
_httpx_log.addFilter(_DemoteConsumerRequests())


class _Sentinel:
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


FLUSH: Final = _Sentinel("FLUSH")
STOP: Final = _Sentinel("STOP")
Entry = Item | _Sentinel

MAX_BATCH_EVENTS: Final = 100
"""The server's limit per `/track/batch` request."""
BACKOFF_BASE: Final = 0.5
BACKOFF_CAP: Final = 30.0
MAX_RETRY_AFTER: Final = 60.0
"""A `Retry-After` longer than this is cut short: the queue keeps filling while we wait."""

_PREFIX = b'{"events":['
_SUFFIX = b"]}"

Send = Callable[[str, bytes], httpx.Response]
Report = Callable[[BaseException, list[dict[str, Any]]], None]


def backoff_delay(attempt: int, retry_after: float | None) -> float:
    """Seconds to wait before retry number `attempt + 1`.

    The server's `Retry-After` wins when given (capped at `MAX_RETRY_AFTER`); otherwise
    exponential backoff with full jitter: uniform(0, min(cap, base * 2**attempt)).
    """
    if retry_after is not None:
        return min(retry_after, MAX_RETRY_AFTER)
    return random.uniform(0.0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))


class Consumer(threading.Thread):
    """Takes items off `q` and delivers them through `send(path, body)`."""

    def __init__(
        self,
        q: queue.Queue[Entry],
        send: Send,
        report: Report,
        *,
        flush_at: int,
        flush_interval: float,
        max_batch_bytes: int,
        max_retries: int,
    ) -> None:
        super().__init__(name=THREAD_NAME, daemon=True)
        self.queue = q
        self.send = send
        self.report = report
        self.flush_at = max(1, min(flush_at, MAX_BATCH_EVENTS))
        self.flush_interval = flush_interval
        self.max_batch_bytes = max_batch_bytes
        self.max_retries = max_retries
        # Set by shutdown: cuts a backoff wait short instead of sleeping it out.
        self.stopping = threading.Event()
        # Set by producers when a full batch is waiting, and by flush/shutdown.
        self.wake = threading.Event()
        # An item taken off the queue that did not fit the byte budget of the last batch.
        self._carry: Entry | None = None

    def run(self) -> None:
        while True:
            try:
                if self._cycle():
                    return
            except Exception:  # the thread must outlive any bug in a single cycle
                log.exception("agentlytics consumer cycle failed")

    def _cycle(self) -> bool:
        """Gather one batch, deliver it, mark its items done. Returns True on STOP."""
        events: list[dict[str, Any]] = []
        encoded: list[bytes] = []
        identifies: list[dict[str, Any]] = []
        size = len(_PREFIX) + len(_SUFFIX)
        stop = False
        if self._carry is not None:
            entry, self._carry = self._carry, None
        else:
            entry = self.queue.get()
        taken = 1
        # A wake-up left over from the last batch would cut this one short.
        self.wake.clear()
        deadline = time.monotonic() + self.flush_interval
        try:
            while True:
                if entry is STOP:
                    stop = True
                    break
                if entry is FLUSH:
                    break
                assert isinstance(entry, tuple)
                kind, payload = entry
                if kind == "identify":
                    identifies.append(payload)
                else:
                    raw = self._encode(payload)
                    if raw is None:
                        pass
                    elif events and size + len(raw) + 1 > self.max_batch_bytes:
                        self._carry = entry
                        taken -= 1
                        break
                    else:
                        events.append(payload)
                        encoded.append(raw)
                        size += len(raw) + 1
                if len(events) + len(identifies) >= self.flush_at:
                    break
                try:
                    entry = self.queue.get_nowait()
                except queue.Empty:
                    # Sleep until the interval ends or a producer says a batch is ready,
                    # instead of waking (and taking the GIL) once per enqueued event.
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self.wake.wait(remaining)
                    self.wake.clear()
                    try:
                        entry = self.queue.get_nowait()
                    except queue.Empty:
                        break
                taken += 1
            if events:
                self._deliver("/track/batch", _PREFIX + b",".join(encoded) + _SUFFIX, events)
            for payload in identifies:
                if (raw := self._encode(payload)) is not None:
                    self._deliver("/identify", raw, [payload])
        finally:
            for _ in range(taken):
                self.queue.task_done()
        return stop

    def _encode(self, event: dict[str, Any]) -> bytes | None:
        try:
            raw = encode(event)
        except (TypeError, ValueError) as exc:
            self.report(InvalidEvent(f"event is not JSON-encodable: {exc}"), [event])
            return None
        if len(raw) + len(_PREFIX) + len(_SUFFIX) > self.max_batch_bytes:
            self.report(
                InvalidEvent(
                    f"event is {len(raw)} bytes; max_batch_bytes is {self.max_batch_bytes}"
                ),
                [event],
            )
            return None
        return raw

    def _deliver(self, path: str, body: bytes, items: list[dict[str, Any]]) -> None:
        """Send with retries; report whatever could not be delivered. Never raises."""
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                response = self.send(path, body)
            except APIError as exc:
                error: BaseException = exc
                retryable = exc.retryable
                retry_after = exc.retry_after
            except httpx.TransportError as exc:
                error, retryable = exc, True
            except Exception as exc:
                error, retryable = exc, False
            else:
                self._report_rejected(response, items)
                return
            # Once shutting down, each batch gets one last attempt and no retries.
            if not retryable or attempt >= self.max_retries or self.stopping.is_set():
                self.report(error, items)
                return
            if self.stopping.wait(backoff_delay(attempt, retry_after)):
                shutdown = ShutdownError(f"client shut down while retrying: {error}")
                shutdown.__cause__ = error
                self.report(shutdown, items)
                return
            attempt += 1

    def _report_rejected(self, response: httpx.Response, items: list[dict[str, Any]]) -> None:
        """A 2xx answer may still list events it refused (`rejected: [{index, error, message}]`)."""
        try:
            body = response.json()
        except ValueError:
            return
        rejected = body.get("rejected") if isinstance(body, dict) else None
        if not isinstance(rejected, list) or not rejected:
            return
        entries = [r for r in rejected if isinstance(r, dict)]
        refused = [
            items[r["index"]]
            for r in entries
            if isinstance(r.get("index"), int) and 0 <= r["index"] < len(items)
        ]
        self.report(EventsRejected(entries), refused)
