"""The asyncio path: enqueueing never awaits I/O and aflush never blocks the loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from agentlytics_sdk import Client

from sdk_loopback import LiveServer


def test_atrack_and_aflush_deliver(server: LiveServer, make_client: Callable[..., Client]) -> None:
    client = make_client()

    async def main() -> bool:
        await client.atrack("async", "user-1", {"n": 1})
        await client.aidentify("anon", "user-1")
        return await client.aflush(timeout=10)

    assert asyncio.run(main())
    assert [e["event"] for e in server.recorder.events()] == ["async"]
    assert len(server.recorder.accepted("/identify")) == 1


def test_aflush_leaves_the_event_loop_free_while_it_waits(
    server: LiveServer, make_client: Callable[..., Client]
) -> None:
    client = make_client()
    server.recorder.gate.clear()

    async def main() -> tuple[bool, bool]:
        await client.atrack("held", "user-1")
        flushing = asyncio.create_task(client.aflush(timeout=10))
        # The server holds the request, so the flush cannot finish; yet this coroutine runs.
        for _ in range(3):
            await asyncio.sleep(0)
        pending = not flushing.done()
        server.recorder.gate.set()
        return pending, await flushing

    assert asyncio.run(main()) == (True, True)
    assert [e["event"] for e in server.recorder.events()] == ["held"]
