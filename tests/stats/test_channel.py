"""The `stats` channel over a real WebSocket: a snapshot at once, then only what changed."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from eventd.stats.keys import STATS
from eventd.store.base import Change
from eventd.store.memory import MemoryEngine
from tests.conftest import NOW, FakeClock, MakeClient, make_config
from tests.waiting import wait_for
from tests.ws.test_websocket import connect, receive

Client = TestClient[Any, Any]


async def tick(client: Client) -> None:
    """Run the stats-tick job now, as the scheduler would, once the feed has caught up."""
    stats = client.app[STATS]
    head = (await stats.hub.engine.read_changes(0, 1)).head
    await wait_for(lambda: stats.hub.position >= head, "the hub to reach the feed's head")
    await stats.tick()


async def test_snapshot_then_only_changed_windows(
    make_client: MakeClient, clock: FakeClock
) -> None:
    client = await make_client()
    await client.post("/events", json={"timestamp": NOW / 1e6 - 600, "value": 2})  # 10 min ago
    ws = await connect(client)
    await ws.send_json(
        {"type": "subscribe", "id": "s", "channels": ["stats"], "windows": ["5m", "1h"]}
    )
    assert (await receive(ws))["type"] == "subscribed"
    snapshot = await receive(ws)
    assert snapshot["type"] == "stats" and snapshot["sub"] == "s"
    assert set(snapshot["windows"]) == {"5m", "1h"}
    assert (snapshot["windows"]["5m"]["count"], snapshot["windows"]["1h"]["count"]) == (0, 1)

    await tick(client)  # nothing changed: nothing is sent
    await client.post("/events", json={"timestamp": NOW / 1e6 - 1, "value": 5})
    await tick(client)
    update = await receive(ws)
    assert set(update["windows"]) == {"5m", "1h"}
    assert update["windows"]["5m"]["max"] == 5.0

    clock.advance(2 * 3600)  # both events leave the hour
    await client.post("/events", json={"timestamp": NOW / 1e6 - 7200, "value": 1})  # only 1d
    await tick(client)
    update = await receive(ws)
    assert update["windows"]["1h"]["count"] == 0
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"


async def test_stats_by_type_and_bad_windows(client: Client) -> None:
    ws = await connect(client)
    await ws.send_json({"type": "subscribe", "id": "x", "channels": ["stats"], "windows": ["2h"]})
    error = await receive(ws)
    assert (error["type"], error["code"]) == ("error", "bad_message")
    await ws.send_json(
        {"type": "subscribe", "id": "t", "channels": ["stats"], "filter": {"type": "deploy"}}
    )
    assert (await receive(ws))["type"] == "subscribed"
    snapshot = await receive(ws)
    assert snapshot["stats_type"] == "deploy"
    assert list(snapshot["windows"]) == ["5m", "15m", "1h", "1d"]
    await ws.send_json({"type": "unsubscribe", "id": "t"})
    assert (await receive(ws))["type"] == "unsubscribed"
    assert client.app[STATS].listeners == set()


class GatedEngine(MemoryEngine):
    """Holds the hub before its next read of the feed while `gate` is closed."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.parked = asyncio.Event()  # set while the hub waits at the closed gate

    async def wait_changes(self, after: int, block: float) -> list[Change]:
        if not self.gate.is_set():
            self.parked.set()
            await self.gate.wait()
            self.parked.clear()
        return await super().wait_changes(after, block)


async def test_events_and_stats_wait_for_the_windows_without_holding_changes(
    make_client: MakeClient,
) -> None:
    """While the snapshot waits for the windows to catch up, the events subscription must
    not hold live changes: more than `send_queue` of them would close a client that keeps up.
    """
    engine = GatedEngine()
    client = await make_client(make_config(feed={"send_queue": 64}), engine=engine)
    engine.gate.clear()
    await client.post("/events", json={"value": 1})  # the hub reads it, then stops at the gate
    async with asyncio.timeout(30):
        await engine.parked.wait()
    await client.post("/events", json=[{"value": 1} for _ in range(200)])  # 3x send_queue
    ws = await connect(client)
    request = {"type": "subscribe", "id": "s", "channels": ["events", "stats"], "since": 0}
    await ws.send_json(request)
    stats = client.app[STATS]
    await wait_for(lambda: bool(stats._waiters), "the snapshot to wait for the windows")
    engine.gate.set()  # the hub hands the 200 changes out while the subscription waits
    assert (await receive(ws))["type"] == "subscribed"
    snapshot = await receive(ws)
    assert (snapshot["type"], snapshot["windows"]["5m"]["count"]) == ("stats", 201)
    got = [await receive(ws) for _ in range(201)]
    assert [m.get("position") for m in got] == list(range(1, 202))
