"""Bad `subscribe` values get an `error` and the socket stays open, on every engine."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import MakeClient, make_config
from tests.ws.test_websocket import connect, post, receive, subscribe

Client = TestClient[Any, Any]


async def still_answers(ws: Any) -> None:
    """The socket is open and nothing else was queued before the pong."""
    await ws.send_json({"type": "ping", "id": "alive"})
    assert await receive(ws) == {"type": "pong", "id": "alive"}


@pytest.mark.parametrize(
    "fields",
    [
        {"since": -5},
        {"since": -1},
        {"since": 10**30},
        {"channels": ["stats"], "windows": ["9" * 5000]},
        {"channels": ["stats"], "windows": ["9" * 5000 + "s"]},
        {"channels": ["stats"], "filter": {"key": "web"}},
        {"channels": ["stats", "events"], "filter": {"key": ["web"]}},
        {"channels": ["events"], "windows": ["5m"]},
    ],
    ids=[
        "negative-since",
        "since-minus-one",
        "huge-since",
        "5000-digit-window",
        "5000-digit-seconds-window",
        "stats-key-filter",
        "stats-and-events-key-filter",
        "windows-on-events",
    ],
)
async def test_bad_subscribe_values_are_errors(client: Client, fields: dict[str, Any]) -> None:
    await post(client, [{}, {}])
    ws = await connect(client)
    await ws.send_json({"type": "subscribe", "id": "x", **fields})
    error = await receive(ws)
    assert (error["type"], error["code"], error["id"]) == ("error", "bad_message", "x"), error
    assert error["message"]
    await still_answers(ws)
    await subscribe(ws, "x")  # the refused id was not taken


async def test_history_truncated_is_sent_instead_of_subscribed(make_client: MakeClient) -> None:
    client = await make_client(make_config(feed={"history": 5}))
    await post(client, [{} for _ in range(20)])
    ws = await connect(client)
    await ws.send_json({"type": "subscribe", "id": "s", "since": 2})
    truncated = await receive(ws)
    assert truncated["type"] == "history_truncated", truncated
    await still_answers(ws)
    await subscribe(ws, "s", since=15)  # the id is free: that subscription was not made


async def test_subscriptions_per_socket_are_capped(make_client: MakeClient) -> None:
    client = await make_client(make_config(feed={"max_subscriptions_per_socket": 3}))
    ws = await connect(client)
    await subscribe(ws, "a")
    await subscribe(ws, "b", channels=["stats"])
    await receive(ws)  # b's snapshot
    await subscribe(ws, "c", channels=["events", "stats"])
    await receive(ws)  # c's snapshot
    await ws.send_json({"type": "subscribe", "id": "d"})
    error = await receive(ws)
    assert (error["type"], error["code"], error["id"]) == ("error", "too_many_subscriptions", "d")
    assert "3" in error["message"]
    await still_answers(ws)
    await ws.send_json({"type": "unsubscribe", "id": "a"})
    assert (await receive(ws))["type"] == "unsubscribed"
    await subscribe(ws, "d")  # room again
    other = await connect(client)  # the cap is per socket
    await subscribe(other, "a")


async def test_the_default_cap_is_100(client: Client) -> None:
    ws = await connect(client)
    for n in range(100):
        await ws.send_json({"type": "subscribe", "id": f"s{n}"})
    replies = [await receive(ws) for _ in range(100)]
    assert {r["type"] for r in replies} == {"subscribed"}
    await ws.send_json({"type": "subscribe", "id": "one-too-many"})
    assert (await receive(ws))["code"] == "too_many_subscriptions"
    await post(client, {})  # one change, 100 messages: not more
    got = [await receive(ws) for _ in range(100)]
    assert {m["sub"] for m in got} == {f"s{n}" for n in range(100)}
    await still_answers(ws)


@pytest.mark.parametrize(
    "nested",
    ["[" * 20_000 + "]" * 20_000, '{"a":' * 10_000 + "1" + "}" * 10_000],
    ids=["array", "object"],
)
async def test_deep_nesting_is_an_error(client: Client, nested: str) -> None:
    ws = await connect(client)
    for field in ("filter", "id", "extra"):
        await ws.send_str(f'{{"type": "subscribe", "id": "x", "{field}": {nested}}}')
        error = await receive(ws)
        assert error["type"] == "error" and error["code"] in ("bad_json", "bad_message"), error
    await still_answers(ws)


async def test_the_largest_since_is_ahead_of_the_feed(client: Client) -> None:
    ws = await connect(client)
    await ws.send_json({"type": "subscribe", "id": "x", "since": 2**63 - 1})
    truncated = await receive(ws)
    assert (truncated["type"], truncated["reason"]) == ("history_truncated", "ahead")
    await still_answers(ws)
