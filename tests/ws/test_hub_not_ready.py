"""A subscription asked for before the hub has read the feed's head is refused, not lossy.

While the store did not answer at start-up the hub does not know where the feed stands: a
`since` replay could only run up to position 0, and the changes between that and the head
would never be sent. The hub's read of the head fails until the test lets it through.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from eventd.client import Subscriber
from eventd.keys import HUB
from eventd.store.base import FeedPage, StorageError
from eventd.store.memory import MemoryEngine
from tests.conftest import MakeClient
from tests.waiting import wait_for
from tests.ws.test_websocket import Client, changes, post, receive, subscribe


class HeadlessEngine(MemoryEngine):
    """Fails the hub's read of the feed's head until `healthy` (a store that comes back)."""

    healthy = False

    async def read_changes(self, after: int, limit: int) -> FeedPage:
        if after == 0 and limit == 1 and not self.healthy:
            raise StorageError("the store did not answer")
        return await super().read_changes(after, limit)


async def hub_ready(client: Client) -> None:
    hub = client.app[HUB]
    await wait_for(lambda: hub.ready, "the hub to read the feed's head")


async def test_a_subscription_before_the_hub_is_ready_is_refused(
    make_client: MakeClient,
) -> None:
    engine = HeadlessEngine()
    client = await make_client(engine=engine)
    await post(client, [{} for _ in range(5)])  # positions 1 to 5
    ws = await client.ws_connect("/ws")
    welcome = await receive(ws)
    assert (welcome["position"], welcome["epoch"]) == (0, None)
    for since in (0, 3):
        await ws.send_json({"type": "subscribe", "id": "s", "since": since, "epoch": "e"})
        refused = await receive(ws)
        assert (refused["type"], refused["code"], refused["id"]) == ("error", "unavailable", "s")
    engine.healthy = True
    await hub_ready(client)
    await subscribe(ws, "s", since=0)  # nothing was made: the id is free
    await post(client, {})  # position 6
    assert [m["position"] for m in await changes(ws, 6)] == [1, 2, 3, 4, 5, 6]


async def test_the_client_retries_until_the_hub_is_ready(make_client: MakeClient) -> None:
    engine = HeadlessEngine()
    client = await make_client(engine=engine)
    await post(client, [{"id": f"e{i}"} for i in range(3)])
    received: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        subscriber = Subscriber(session, str(client.make_url("/")), since=0, max_delay=0.05)

        async def collect() -> None:
            async for change in subscriber:
                received.append(change)
                if len(received) == 4:
                    return

        reading = asyncio.create_task(collect())
        try:
            await wait_for(lambda: subscriber.connections >= 2, "a refused subscription")
            assert not subscriber.connected.is_set()
            engine.healthy = True
            await hub_ready(client)
            await post(client, {"id": "e3"})
            async with asyncio.timeout(30):
                await reading
        finally:
            reading.cancel()
            await asyncio.gather(reading, return_exceptions=True)
    assert [c["event"]["id"] for c in received] == ["e0", "e1", "e2", "e3"]
    assert [c["position"] for c in received] == [1, 2, 3, 4]
