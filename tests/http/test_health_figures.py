"""GET /health tells how far the feed got and how many WebSocket subscribers there are."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from eventd.keys import SOCKETS
from tests.conftest import MakeClient
from tests.waiting import wait_for
from tests.ws.test_websocket import WS, connect, post, receive, subscribe

Client = TestClient[Any, Any]
NOBODY = {
    "connections": 0,
    "subscriptions": 0,
    "channels": {"events": 0, "reminders": 0, "stats": 0, "transitions": 0},
}


async def health(client: Client) -> dict[str, Any]:
    response = await client.get("/health")
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def refused(ws: WS, **fields: Any) -> dict[str, Any]:
    await ws.send_json({"type": "subscribe", **fields})
    reply = await receive(ws)
    assert reply["type"] in ("error", "history_truncated"), reply
    return reply


async def test_the_feed_position_is_the_last_change_dispatched(make_client: MakeClient) -> None:
    client = await make_client()
    before = await health(client)
    ws = await connect(client)
    start = (await subscribe(ws, channels=["events"]))["position"]
    assert before["feed"]["position"] == start
    assert before["feed"]["epoch"] is not None

    await post(client, [{"type": "a"}, {"type": "b"}])
    # Once the second change reached the socket, the hub has dispatched it.
    received = [await receive(ws) for _ in range(2)]

    after = await health(client)
    assert after["feed"] == {"position": start + 2, "epoch": before["feed"]["epoch"]}
    assert received[-1]["position"] == start + 2


async def test_subscribers_are_counted_by_connection_subscription_and_channel(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    assert (await health(client))["subscribers"] == NOBODY
    first, second = await connect(client), await connect(client)
    await subscribe(first, "feed", channels=["events", "reminders"])
    await subscribe(first, "figures", channels=["stats"])
    assert (await receive(first))["type"] == "stats"  # the snapshot
    await subscribe(second, "pairs", channels=["transitions"], field="status")

    assert (await health(client))["subscribers"] == {
        "connections": 2,
        "subscriptions": 3,
        "channels": {"events": 1, "reminders": 1, "stats": 1, "transitions": 1},
    }

    await first.send_json({"type": "unsubscribe", "id": "feed"})
    assert (await receive(first))["type"] == "unsubscribed"
    counted = (await health(client))["subscribers"]
    assert (counted["subscriptions"], counted["channels"]["events"]) == (2, 0)

    app = client.server.app
    await first.close()
    await second.close()
    await wait_for(lambda: not app[SOCKETS], "the server to let the sockets go")
    assert (await health(client))["subscribers"] == NOBODY


async def test_refused_subscriptions_are_not_counted(make_client: MakeClient) -> None:
    client = await make_client()
    ws = await connect(client)
    await subscribe(ws, "s", channels=["stats"])
    assert (await receive(ws))["type"] == "stats"  # the snapshot
    # Refused before anything is made, and after (its `since` is past the feed's head).
    await refused(ws, id="s", channels=["events"])
    await refused(ws, id="w", channels=["stats"], windows=["7m"])
    await refused(ws, id="t", channels=["events", "stats"], since=10**6)

    counted = (await health(client))["subscribers"]
    assert counted == {
        "connections": 1,
        "subscriptions": 1,
        "channels": {"events": 0, "reminders": 0, "stats": 1, "transitions": 0},
    }
