"""`Client`: validate, enqueue, return. Delivery happens on the consumer thread."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import logging
import os
import queue
import random
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from agentlytics_sdk import transport
from agentlytics_sdk.consumer import FLUSH, STOP, Consumer, Entry, Kind
from agentlytics_sdk.errors import InvalidEvent, QueueFull
from agentlytics_sdk.variant import assign_variant

log = logging.getLogger("agentlytics_sdk")

DEFAULT_URL = "http://127.0.0.1:8720"
USER_AGENT = "agentlytics-sdk-python"

OnError = Callable[[BaseException, list[dict[str, Any]]], None]
Timestamp = dt.datetime | int | float

_EXPOSURES_REMEMBERED = 10_000

# Idempotency ids come from a private generator seeded from os.urandom: uuid.uuid4() costs an
# os.urandom() call per event, and the shared `random` may be seeded by the application,
# which would make two processes mint the same ids (and the server drop one's events).
_ids = random.Random()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_ids.seed)


def new_event_id() -> str:
    """A random (version 4) UUID string, cheaper than `str(uuid.uuid4())`."""
    bits = _ids.getrandbits(128)
    bits = (bits & ~(0xF000 << 64)) | (0x4000 << 64)  # version 4
    bits = (bits & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Client:
    """Sends events to an Agentlytics server from a background thread.

    Nothing here raises into your code or waits on the network: `track()` builds the event,
    stamps it with an idempotency `id` and puts it on a bounded queue. A daemon consumer
    thread posts batches to `{url}/track/batch` and retries what failed (see the README,
    "Delivery guarantees"). Whatever cannot be delivered is logged and passed to
    `on_error(exc, events)`, which may run on the consumer thread or, for a full queue or an
    invalid event, on the calling thread.
    """

    def __init__(
        self,
        write_key: str | None,
        url: str = DEFAULT_URL,
        *,
        flush_at: int = 100,
        flush_interval: float = 0.5,
        max_queue_size: int = 10_000,
        max_batch_bytes: int = 500_000,
        max_retries: int = 6,
        timeout: float = 10.0,
        on_error: OnError | None = None,
        transport: httpx.BaseTransport | None = None,
        disabled: bool = False,
        exit_timeout: float = 5.0,
    ) -> None:
        self.write_key = write_key or ""
        self.url = url.rstrip("/")
        self.flush_at = flush_at
        self.flush_interval = flush_interval
        self.max_queue_size = max_queue_size
        self.max_batch_bytes = max_batch_bytes
        self.max_retries = max_retries
        self.timeout = timeout
        self.on_error = on_error
        self.exit_timeout = exit_timeout
        self.session_id = str(uuid.uuid4())
        self.disabled = disabled
        if not self.write_key and not disabled:
            log.warning("agentlytics: no write key given; events will not be sent")
            self.disabled = True
        self._transport = transport
        self._lock = threading.Lock()
        self._queue: queue.Queue[Entry] = queue.Queue(max(1, max_queue_size))
        self._consumer: Consumer | None = None
        self._http: httpx.Client | None = None
        self._shut_down = False
        self._last_drop_log = 0.0
        self._exposures: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        if not self.disabled:
            atexit.register(self._at_exit)
            _register_fork_reset(self)

    # -- the public surface ---------------------------------------------------------------

    def track(
        self,
        name: str,
        user_id: str | None,
        props: Mapping[str, Any] | None = None,
        *,
        user_email: str | None = None,
        user_name: str | None = None,
        session_id: str | None = None,
        timestamp: Timestamp | None = None,
    ) -> None:
        """Record event `name` for `user_id`. Returns at once; never raises.

        `timestamp` is a `datetime` (naive means local time) or unix milliseconds; it
        defaults to now. `session_id` defaults to one random id per `Client`.
        """
        if self.disabled:
            return
        try:
            if not isinstance(name, str) or not name:
                raise InvalidEvent(f"event name must be a non-empty string, got {name!r}")
            event: dict[str, Any] = {
                "event": name,
                "properties": dict(props) if props else {},
                # Ids are strings on the wire; an int user id is a common slip.
                "user_id": None if user_id is None else str(user_id),
                "session_id": str(session_id) if session_id else self.session_id,
                "timestamp": _to_ms(timestamp),
            }
            if user_email is not None:
                event["user_email"] = user_email
            if user_name is not None:
                event["user_name"] = user_name
            self.capture(event)
        except Exception as exc:
            self._report(exc if isinstance(exc, InvalidEvent) else InvalidEvent(str(exc)), [])

    def capture(self, event: dict[str, Any]) -> None:
        """Enqueue a raw wire-format event (see docs/dev/wire-format.md). Never raises.

        Fills in `token`, `id` (the idempotency key) and `timestamp` when absent. `track()`
        and the MCP instrumentation both end here.
        """
        if self.disabled:
            return
        try:
            event["token"] = self.write_key
            if "id" not in event:
                event["id"] = new_event_id()
            if event.get("timestamp") is None:
                event["timestamp"] = int(time.time() * 1000)
            self._enqueue("event", event)
        except Exception as exc:
            self._report(exc, [])

    def identify(self, previous_id: str, user_id: str) -> None:
        """Link the anonymous or earlier id `previous_id` to `user_id`. Never raises."""
        if self.disabled:
            return
        if not previous_id or not user_id:
            self._report(InvalidEvent("identify needs both previous_id and user_id"), [])
            return
        payload = {"token": self.write_key, "previous_id": previous_id, "user_id": user_id}
        try:
            self._enqueue("identify", payload)
        except Exception as exc:
            self._report(exc, [payload])

    def variant(
        self,
        experiment: str,
        user_id: str,
        variants: Sequence[str],
        weights: Sequence[int] | None = None,
        *,
        expose: bool = True,
    ) -> str:
        """The variant `user_id` sees in `experiment` (see `assign_variant` for the rule).

        With `expose`, records an `$experiment_exposure` event (properties `experiment`,
        `variant`) the first time this process assigns that user (last 10 000 remembered).

        Raises:
            ValueError: `variants` is empty.
        """
        chosen = assign_variant(experiment, user_id, variants, weights)
        if expose and not self.disabled:
            key = (experiment, user_id, chosen)
            with self._lock:
                seen = key in self._exposures
                if not seen:
                    self._exposures[key] = None
                    if len(self._exposures) > _EXPOSURES_REMEMBERED:
                        self._exposures.popitem(last=False)
            if not seen:
                self.track(
                    "$experiment_exposure",
                    user_id,
                    {"experiment": experiment, "variant": chosen},
                )
        return chosen

    def flush(self, timeout: float | None = None) -> bool:
        """Block until everything enqueued so far is delivered or reported.

        Returns False if `timeout` seconds passed first. Never raises.
        """
        if self._consumer is None or not self._consumer.is_alive():
            return self._queue.unfinished_tasks == 0
        if threading.current_thread() is self._consumer:
            # Called from on_error: waiting for the batch in hand would wait for ourselves.
            log.warning("agentlytics: flush() from the consumer thread (on_error) is ignored")
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._queue.all_tasks_done:
            if self._queue.unfinished_tasks == 0:
                return True
        # Cut the consumer's batching window short; a full queue is sent at once anyway.
        with contextlib.suppress(queue.Full):
            self._queue.put_nowait(FLUSH)
        self._consumer.wake.set()
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def shutdown(self, timeout: float | None = None) -> None:
        """Flush (waiting at most `timeout` seconds), stop the consumer, close connections.

        Later calls to `track()` are ignored. Never raises.
        """
        if threading.current_thread() is self._consumer:
            log.warning("agentlytics: shutdown() from the consumer thread (on_error) is ignored")
            return
        with self._lock:
            if self._shut_down:
                return
            self._shut_down = True
            self.disabled = True
        atexit.unregister(self._at_exit)
        consumer = self._consumer
        if consumer is not None and consumer.is_alive():
            deadline = None if timeout is None else time.monotonic() + timeout
            self.flush(timeout)
            # Whatever is still pending gets one last attempt, no more backoff.
            consumer.stopping.set()
            with contextlib.suppress(queue.Full):
                self._queue.put(STOP, timeout=0.5)
            consumer.wake.set()
            consumer.join(None if deadline is None else max(0.5, deadline - time.monotonic()))
        if self._http is not None:
            self._http.close()

    async def atrack(
        self,
        name: str,
        user_id: str | None,
        props: Mapping[str, Any] | None = None,
        *,
        user_email: str | None = None,
        user_name: str | None = None,
        session_id: str | None = None,
        timestamp: Timestamp | None = None,
    ) -> None:
        """`track()` for async code (enqueueing never blocks, so this never awaits I/O)."""
        self.track(
            name,
            user_id,
            props,
            user_email=user_email,
            user_name=user_name,
            session_id=session_id,
            timestamp=timestamp,
        )

    async def aidentify(self, previous_id: str, user_id: str) -> None:
        """`identify()` for async code."""
        self.identify(previous_id, user_id)

    async def aflush(self, timeout: float | None = None) -> bool:
        """`flush()` on a worker thread, so the event loop keeps running while it waits."""
        return await asyncio.to_thread(self.flush, timeout)

    async def ashutdown(self, timeout: float | None = None) -> None:
        """`shutdown()` on a worker thread."""
        await asyncio.to_thread(self.shutdown, timeout)

    # -- internals ------------------------------------------------------------------------

    def _enqueue(self, kind: Kind, payload: dict[str, Any]) -> None:
        consumer = self._consumer or self._start()
        try:
            self._queue.put_nowait((kind, payload))
        except queue.Full:
            self._report(QueueFull(f"queue holds {self.max_queue_size} items; dropped"), [payload])
            return
        if consumer is not None and self._queue.qsize() >= consumer.flush_at:
            consumer.wake.set()

    def _start(self) -> Consumer | None:
        with self._lock:
            if self._consumer is not None or self._shut_down:
                return self._consumer
            self._http = httpx.Client(
                transport=self._transport,
                timeout=self.timeout,
                headers={"User-Agent": USER_AGENT},
            )
            consumer = Consumer(
                self._queue,
                self._send,
                self._report,
                flush_at=self.flush_at,
                flush_interval=self.flush_interval,
                max_batch_bytes=self.max_batch_bytes,
                max_retries=self.max_retries,
            )
            consumer.start()
            self._consumer = consumer
            return consumer

    def _send(self, path: str, body: bytes) -> httpx.Response:
        assert self._http is not None
        return transport.post(self._http, self.url + path, body)

    def _report(self, exc: BaseException, items: list[dict[str, Any]]) -> None:
        """Log and hand to `on_error`; an `on_error` that raises is logged, not propagated."""
        if isinstance(exc, QueueFull):
            now = time.monotonic()
            if now - self._last_drop_log >= 10.0:
                self._last_drop_log = now
                log.warning("agentlytics: %s", exc)
        else:
            log.warning("agentlytics: %d item(s) not delivered: %r", len(items), exc)
        if self.on_error is not None:
            try:
                self.on_error(exc, items)
            except Exception:
                log.exception("agentlytics: on_error raised")

    def _at_exit(self) -> None:
        self.shutdown(self.exit_timeout)

    def _after_fork_in_child(self) -> None:
        # The parent's thread and sockets do not exist in the child; start afresh there.
        self._lock = threading.Lock()
        self._queue = queue.Queue(max(1, self.max_queue_size))
        self._consumer = None
        self._http = None


def _to_ms(timestamp: Timestamp | None) -> int:
    if timestamp is None:
        return int(time.time() * 1000)
    if isinstance(timestamp, dt.datetime):
        return int(timestamp.timestamp() * 1000)
    if isinstance(timestamp, bool) or not isinstance(timestamp, int | float):
        raise InvalidEvent(f"timestamp must be a datetime or unix ms, got {timestamp!r}")
    return int(timestamp)


def _register_fork_reset(client: Client) -> None:
    ref = weakref.ref(client)

    def reset() -> None:
        alive = ref()
        if alive is not None:
            alive._after_fork_in_child()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=reset)
