"""The `transitions` channel over a real WebSocket: a snapshot at once, then only the pairs
whose figures changed, once per tick; a pair that left the window comes once with count 0."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from eventd.timelines.keys import TRANSITIONS
from tests.conftest import NOW, FakeClock, MakeClient
from tests.waiting import wait_for
from tests.ws.test_websocket import connect, receive

Client = TestClient[Any, Any]
MINUTE = 60


async def tick(client: Client) -> None:
    """Run the transitions-tick job now, as the scheduler would, once the feed has caught up."""
    service = client.app[TRANSITIONS]
    head = (await service.hub.engine.read_changes(0, 1)).head
    await wait_for(lambda: service.hub.position >= head, "the hub to reach the feed's head")
    await service.tick()


async def post(client: Client, key: str, minutes_ago: float, status: str, **event: Any) -> None:
    at = NOW / 1e6 - minutes_ago * MINUTE
    body = {"key": key, "timestamp": at, "data": {"status": status}} | event
    response = await client.post("/events", json=body)
    assert response.status == 201


def pairs(message: dict[str, Any]) -> dict[tuple[Any, Any], int]:
    return {(t["from"], t["to"]): t["count"] for t in message["transitions"]}


async def test_snapshot_then_changed_pairs(make_client: MakeClient, clock: FakeClock) -> None:
    client = await make_client()
    await post(client, "a", 30, "start")
    await post(client, "a", 8, "wait")
    ws = await connect(client)
    await ws.send_json(
        {
            "type": "subscribe",
            "id": "t",
            "channels": ["transitions"],
            "field": "status",
            "window": "10m",
        }
    )
    assert (await receive(ws))["type"] == "subscribed"
    snapshot = await receive(ws)
    assert snapshot["type"] == "transitions" and snapshot["sub"] == "t"
    assert snapshot["field"] == "status"
    assert snapshot["end"] == "2025-06-01T12:00:00.000000Z"
    assert snapshot["start"] == "2025-06-01T11:50:00.000000Z"
    assert pairs(snapshot) == {("start", "wait"): 1}
    assert snapshot["transitions"][0]["dwell_seconds"]["max"] == 22 * 60.0

    await tick(client)  # nothing changed: nothing is sent
    await post(client, "a", 1, "end")
    await post(client, "b", 5, "start")  # a first value: no transition
    await tick(client)
    update = await receive(ws)
    assert pairs(update) == {("wait", "end"): 1}  # start -> wait is unchanged: not resent

    clock.advance(9 * MINUTE)  # start -> wait (8 minutes before NOW) leaves the window
    await post(client, "b", -8, "wait")  # now b enters wait, 1 minute ago
    await tick(client)
    update = await receive(ws)
    assert pairs(update) == {("start", "wait"): 1}  # it left, and b's came in
    assert update["transitions"][0]["dwell_seconds"]["max"] == 4 * 60.0 + 9 * 60.0

    clock.advance(30 * MINUTE)
    await tick(client)
    gone = await receive(ws)
    assert pairs(gone) == {("start", "wait"): 0, ("wait", "end"): 0}
    assert gone["transitions"][0]["dwell_seconds"]["mean"] is None
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"  # and no second message for what left


async def test_filters_and_refusals(client: Client) -> None:
    await post(client, "a", 5, "start", type="x")
    await post(client, "a", 4, "wait", type="y")
    await post(client, "b", 3, "start", type="x")
    await post(client, "b", 2, "done", type="z")
    ws = await connect(client)
    subscribe = {"type": "subscribe", "channels": ["transitions"], "field": "/status"}
    await ws.send_json(subscribe | {"id": "y", "filter": {"type": "y"}})
    assert (await receive(ws))["type"] == "subscribed"
    assert pairs(await receive(ws)) == {("start", "wait"): 1}
    await ws.send_json(subscribe | {"id": "b", "filter": {"key": ["b"]}})
    assert (await receive(ws))["type"] == "subscribed"
    assert pairs(await receive(ws)) == {("start", "done"): 1}
    for bad, named in (
        ({"field": "other"}, "field: 'other' is not indexed"),
        ({"field": None}, "field: is required"),
        ({"field": "a..b"}, "field: "),
        ({"window": "soon"}, "window: "),
        ({"window": "0s"}, "window: "),
        ({"window": ""}, "window: must not be empty"),
        ({"filter": {"data": {"status": "wait"}}}, "filter.data: is not supported"),
        ({"filter": {"type": "x", "data": {}}}, "filter.data: is not supported"),
    ):
        await ws.send_json(subscribe | {"id": "bad"} | bad)
        error = await receive(ws)
        assert error["type"] == "error" and error["code"] == "bad_message", error
        assert error["message"].startswith(named), error
    await ws.send_json({"type": "subscribe", "id": "e", "channels": ["events"], "field": "status"})
    error = await receive(ws)
    assert error["message"] == "field: only the transitions channel has field"


async def test_no_push_while_the_index_is_rebuilt(make_client: MakeClient) -> None:
    # A rebuild empties the index and reads it back: a tick meanwhile must not push every
    # pair with count 0 (and all of them again once the rebuild ends).
    client = await make_client()
    await post(client, "a", 30, "start")
    await post(client, "a", 8, "wait")
    ws = await connect(client)
    subscribe = {"type": "subscribe", "id": "t", "channels": ["transitions"]}
    await ws.send_json(subscribe | {"field": "status", "window": "10m"})
    assert (await receive(ws))["type"] == "subscribed"
    assert pairs(await receive(ws)) == {("start", "wait"): 1}
    service = client.app[TRANSITIONS]
    service._held = []  # what `Projection.rebuild` does first, before it reads the store
    service.reset()
    await tick(client)
    await ws.send_json({"type": "ping", "id": 1})
    assert (await receive(ws))["type"] == "pong"  # nothing was pushed before it
    await service.rebuild()
    await tick(client)
    await ws.send_json({"type": "ping", "id": 2})
    assert (await receive(ws))["type"] == "pong"  # the rebuilt index changed nothing
