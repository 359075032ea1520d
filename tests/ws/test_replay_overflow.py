"""Live changes that overflow a subscriber while its `since` replay runs close it with 4008.

The replay is paused on a condition the test controls (the engine's read of the replay's first
page), so the live burst lands while it runs, deterministically.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from eventd.keys import HUB
from eventd.store.base import FeedPage, StorageError
from eventd.store.memory import MemoryEngine
from tests.conftest import MakeClient, make_config
from tests.waiting import wait_for
from tests.ws.test_websocket import connect, post, receive, subscribe


class PausingEngine(MemoryEngine):
    """Holds the first feed read after `pause_at` until the test resumes it."""

    def __init__(self) -> None:
        super().__init__()
        self.pause_at: int | None = None
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()

    async def read_changes(self, after: int, limit: int) -> FeedPage:
        if after == self.pause_at:
            self.pause_at = None
            self.paused.set()
            await self.resume.wait()
        return await super().read_changes(after, limit)


async def until_closed(ws: aiohttp.ClientWebSocketResponse) -> tuple[list[dict[str, Any]], Any]:
    """Read every message up to the close frame; return them and the close message."""
    received = []
    while True:
        message = await ws.receive(timeout=10)
        if message.type != aiohttp.WSMsgType.TEXT:
            return received, message
        received.append(message.json())


async def overflow_during_replay(
    make_client: MakeClient, live: bool
) -> tuple[list[dict[str, Any]], Any]:
    engine = PausingEngine()
    client = await make_client(make_config(feed={"send_queue": 64}), engine=engine)
    await post(client, [{} for _ in range(5)])  # positions 1 to 5
    ws = await connect(client)
    if live:
        await subscribe(ws, "live")  # takes the burst as it comes
    engine.pause_at = 2
    await ws.send_json({"type": "subscribe", "id": "late", "since": 2})
    try:
        await asyncio.wait_for(engine.paused.wait(), 5)
        await post(client, [{} for _ in range(200)])  # while the replay waits: 3x send_queue
        hub = client.app[HUB]
        await wait_for(lambda: hub.position >= 205, "the hub to hand the burst out")
    finally:
        engine.resume.set()
    return await until_closed(ws)


async def test_overflow_during_a_replay_closes_with_the_resume_position(
    make_client: MakeClient,
) -> None:
    received, close = await overflow_during_replay(make_client, live=False)
    assert (close.type, close.data) == (aiohttp.WSMsgType.CLOSE, 4008), close
    positions = [m["position"] for m in received if m["type"] == "change"]
    assert positions == list(range(3, 3 + len(positions)))
    last = positions[-1] if positions else 2  # it asked for what follows 2: it has 2
    assert close.extra == f"slow consumer; last position {last}"


async def test_the_resume_position_covers_a_replaying_subscription_too(
    make_client: MakeClient,
) -> None:
    """Another subscription on the socket got the burst live; the close position must still
    be one from which the replaying subscription loses nothing."""
    received, close = await overflow_during_replay(make_client, live=True)
    assert (close.type, close.data) == (aiohttp.WSMsgType.CLOSE, 4008), close
    late = [m["position"] for m in received if m.get("sub") == "late"]
    assert late == list(range(3, 3 + len(late)))
    last = int(close.extra.rsplit(" ", 1)[1])
    assert last == (late[-1] if late else 2)
    assert any(m.get("sub") == "live" for m in received)  # the burst reached the live one


async def test_a_replay_without_overflow_then_goes_live(make_client: MakeClient) -> None:
    engine = PausingEngine()
    client = await make_client(make_config(feed={"send_queue": 64}), engine=engine)
    await post(client, [{} for _ in range(5)])
    ws = await connect(client)
    engine.pause_at = 2
    await ws.send_json({"type": "subscribe", "id": "late", "since": 2})
    await asyncio.wait_for(engine.paused.wait(), 5)
    await post(client, [{} for _ in range(30)])  # fewer than send_queue: held, then sent
    hub = client.app[HUB]
    await wait_for(lambda: hub.position >= 35, "the hub to hand the changes out")
    engine.resume.set()
    assert (await receive(ws))["type"] == "subscribed"
    got = [(await receive(ws))["position"] for _ in range(33)]
    assert got == list(range(3, 36))
    await post(client, {})
    assert (await receive(ws))["position"] == 36
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"


class FailingEngine(MemoryEngine):
    """Fails the feed reads after `fail_at`, as a store that stopped answering would."""

    fail_at: int | None = None

    async def read_changes(self, after: int, limit: int) -> FeedPage:
        if after == self.fail_at:
            raise StorageError("the store did not answer")
        return await super().read_changes(after, limit)


async def test_a_store_failure_during_a_replay_is_an_error_not_a_crash(
    make_client: MakeClient,
) -> None:
    engine = FailingEngine()
    client = await make_client(engine=engine)
    await post(client, [{} for _ in range(5)])
    ws = await connect(client)
    engine.fail_at = 2
    await ws.send_json({"type": "subscribe", "id": "s", "since": 2})
    error = await receive(ws)
    assert (error["type"], error["code"], error["id"]) == ("error", "unavailable", "s")
    engine.fail_at = None
    await subscribe(ws, "s", since=2)  # the id is free again; the replay works now
    assert [m["position"] for m in [await receive(ws) for _ in range(3)]] == [3, 4, 5]
