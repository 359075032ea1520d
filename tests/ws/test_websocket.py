"""/ws end to end over real WebSocket connections: filters, replay, resume, slow consumers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from eventd.store.base import Engine
from tests.conftest import MakeClient, make_config

Client = TestClient[Any, Any]
WS = aiohttp.ClientWebSocketResponse


async def receive(ws: WS) -> dict[str, Any]:
    message = await ws.receive(timeout=5)
    assert message.type == aiohttp.WSMsgType.TEXT, message
    data: dict[str, Any] = json.loads(message.data)
    return data


async def connect(client: Client) -> WS:
    ws = await client.ws_connect("/ws")
    welcome = await receive(ws)
    assert welcome["type"] == "welcome"
    return ws


async def subscribe(ws: WS, id: str = "s", **fields: Any) -> dict[str, Any]:
    await ws.send_json({"type": "subscribe", "id": id, **fields})
    reply = await receive(ws)
    assert reply["type"] == "subscribed", reply
    return reply


async def changes(ws: WS, count: int) -> list[dict[str, Any]]:
    received = [await receive(ws) for _ in range(count)]
    assert all(m["type"] == "change" for m in received), received
    return received


async def post(client: Client, body: Any) -> Any:
    response = await client.post("/events", json=body)
    assert response.status in (200, 201), await response.text()
    return await response.json()


async def test_welcome_says_where_the_feed_stands(client: Client) -> None:
    await post(client, [{}, {}])
    ws = await client.ws_connect("/ws")
    welcome = await receive(ws)
    assert welcome["position"] >= 0
    assert welcome["heartbeat"] == 20.0
    assert welcome["server_time"].endswith("Z")


async def test_changes_arrive_in_order_with_their_event(client: Client) -> None:
    ws = await connect(client)
    start = (await subscribe(ws))["position"]
    created = await post(client, {"id": "a", "type": "deploy"})
    await client.patch("/events/a", json={"value": 3})
    await client.delete("/events/a")
    got = await changes(ws, 3)
    assert [(m["op"], m["position"], m["sub"]) for m in got] == [
        ("created", start + 1, "s"),
        ("updated", start + 2, "s"),
        ("deleted", start + 3, "s"),
    ]
    assert got[0]["event"] == created
    assert got[1]["event"]["value"] == 3.0
    assert got[2]["event"]["id"] == "a"  # the last known event


async def test_frames_of_every_length_class_arrive_intact(make_client: MakeClient) -> None:
    # Live changes are framed by eventd itself; lengths cross the 7-bit, 16-bit and 64-bit
    # header forms of RFC 6455.
    client = await make_client(make_config(limits={"max_data_bytes": 200_000}))
    ws = await connect(client)
    await subscribe(ws)
    sizes = [0, 1, 10, 60, 100, 65_300, 65_600, 150_000]
    for size in sizes:
        await post(client, {"type": "frame", "data": {"pad": "x" * size}})
    got = await changes(ws, len(sizes))
    assert [len(m["event"]["data"]["pad"]) for m in got] == sizes


async def test_filters_by_type_and_key(client: Client) -> None:
    ws = await connect(client)
    await subscribe(ws, "deploys", filter={"type": "deploy", "key": ["web", "db"]})
    await post(
        client,
        [
            {"id": "1", "type": "alert", "key": "web"},
            {"id": "2", "type": "deploy", "key": "cache"},
            {"id": "3", "type": "deploy", "key": "db"},
            {"id": "4", "type": "deploy"},
            {"id": "5", "type": "deploy", "key": "web"},
        ],
    )
    got = await changes(ws, 2)
    assert [m["event"]["id"] for m in got] == ["3", "5"]
    await ws.send_json({"type": "ping", "id": 7})
    assert await receive(ws) == {"type": "pong", "id": 7}  # nothing else was queued


async def test_resume_after_a_dropped_connection(client: Client) -> None:
    ws = await connect(client)
    await subscribe(ws)
    await post(client, [{"id": f"a{i}"} for i in range(3)])
    seen = await changes(ws, 3)
    await ws.close()
    await post(client, [{"id": f"b{i}"} for i in range(4)])
    ws = await connect(client)
    await subscribe(ws, since=seen[-1]["position"])
    await post(client, {"id": "live"})
    resumed = await changes(ws, 5)
    assert [m["event"]["id"] for m in resumed] == ["b0", "b1", "b2", "b3", "live"]
    positions = [m["position"] for m in seen + resumed]
    assert positions == list(range(positions[0], positions[0] + 8))


async def test_since_older_than_the_history_is_said_explicitly(make_client: MakeClient) -> None:
    client = await make_client(make_config(feed={"history": 5}))
    await post(client, [{} for _ in range(20)])
    ws = await connect(client)
    await ws.send_json({"type": "subscribe", "id": "s", "since": 2})
    truncated = await receive(ws)  # instead of `subscribed`
    assert truncated["type"] == "history_truncated"
    assert truncated["id"] == "s"
    assert truncated["oldest"] == 16 and truncated["head"] == 20
    await subscribe(ws, "again", since=15)  # the oldest kept is 16: no gap, replay works
    assert [m["position"] for m in await changes(ws, 5)] == [16, 17, 18, 19, 20]


async def test_since_ahead_of_the_feed_is_truncation(client: Client) -> None:
    ws = await connect(client)
    await ws.send_json({"type": "subscribe", "id": "s", "since": 10**9})
    assert (await receive(ws))["type"] == "history_truncated"


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "bad_json"),
        ('{"type": "dance"}', "bad_message"),
        ('{"type": "subscribe"}', "bad_message"),
        ('{"type": "subscribe", "id": "x", "filter": {"type": 5}}', "bad_message"),
        ('{"type": "subscribe", "id": "x", "filter": {"colour": "red"}}', "bad_message"),
        ('{"type": "subscribe", "id": "x", "channels": ["weather"]}', "bad_message"),
        ('{"type": "subscribe", "id": "x", "since": "yesterday"}', "bad_message"),
        ('{"type": "unsubscribe", "id": "never"}', "unknown_subscription"),
    ],
)
async def test_bad_requests_get_an_error_and_keep_the_connection(
    client: Client, frame: str, code: str
) -> None:
    ws = await connect(client)
    await ws.send_str(frame)
    error = await receive(ws)
    assert (error["type"], error["code"]) == ("error", code)
    assert error["message"]
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"


async def test_unsubscribe_stops_the_changes(client: Client) -> None:
    ws = await connect(client)
    await subscribe(ws)
    await ws.send_json({"type": "unsubscribe", "id": "s"})
    assert await receive(ws) == {"type": "unsubscribed", "id": "s"}
    await post(client, {})
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"


async def test_race_replay_and_live_join_exactly(client: Client) -> None:
    """Subscribe with `since` while writes pour in: replay + live = the feed after `since`."""
    await post(client, [{} for _ in range(10)])  # a fresh store: positions 1 to 10
    since = 5
    ws = await connect(client)

    async def writer() -> None:
        for i in range(60):
            await post(client, [{"id": f"w{i}-{j}"} for j in range(3)])
            await asyncio.sleep(0)

    pouring = asyncio.create_task(writer())
    await asyncio.sleep(0.01)
    await ws.send_json({"type": "subscribe", "id": "s", "since": since})
    assert (await receive(ws))["type"] == "subscribed"
    await pouring
    got = [m["position"] for m in await changes(ws, 5 + 180)]
    assert got == list(range(since + 1, since + 186))
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"  # and nothing more


async def test_two_daemons_on_one_redis_see_each_others_writes(
    make_client: MakeClient, redis_engine: Engine, redis_twin: Callable[[], Engine]
) -> None:
    a = await make_client(engine=redis_engine)
    b = await make_client(engine=redis_twin())
    ws = await connect(b)
    await subscribe(ws)
    created = await post(a, {"id": "from-a"})
    [message] = await changes(ws, 1)
    assert message["event"] == created
    await ws.send_json({"type": "ping"})
    assert (await receive(ws))["type"] == "pong"  # exactly once


async def test_resume_across_a_restart_on_redis(
    make_client: MakeClient, redis_engine: Engine, redis_twin: Callable[[], Engine]
) -> None:
    first = await make_client(engine=redis_engine)
    ws = await connect(first)
    await subscribe(ws)
    await post(first, {"id": "before"})
    [seen] = await changes(ws, 1)
    await first.close()  # the daemon stops: its sockets close with 1001
    assert (await ws.receive(timeout=5)).type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    second = await make_client(engine=redis_twin())
    await post(second, [{"id": "after-1"}, {"id": "after-2"}])
    ws = await connect(second)
    await subscribe(ws, since=seen["position"])
    assert [m["event"]["id"] for m in await changes(ws, 2)] == ["after-1", "after-2"]


async def test_heartbeat_closes_a_peer_that_stops_answering(make_client: MakeClient) -> None:
    client = await make_client(make_config(feed={"heartbeat": 1}))
    ws = await client.ws_connect("/ws", autoping=False)  # this peer never answers pings
    kinds = []
    for _ in range(10):  # bounded: welcome, one or more pings, then the close
        message = await ws.receive(timeout=5)
        kinds.append(message.type)
        if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
            break
    assert aiohttp.WSMsgType.PING in kinds
    assert kinds[-1] in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_stopping_the_daemon_closes_sockets_with_1001(make_client: MakeClient) -> None:
    client = await make_client()
    ws = await connect(client)
    await subscribe(ws)
    await client.server.close()
    message = await ws.receive(timeout=5)
    assert message.type == aiohttp.WSMsgType.CLOSE
    assert message.data == 1001
