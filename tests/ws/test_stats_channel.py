"""The `stats` channel over a real WebSocket: a snapshot at once, then only what changed."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from eventd.keys import STATS
from tests.conftest import NOW, FakeClock, MakeClient
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
