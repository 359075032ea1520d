"""`filter.data` of `events` subscriptions over real WebSocket connections, on every engine."""

from __future__ import annotations

import sys
from typing import Any

import msgspec
import pytest

from eventd.feed.values import ChangeValues
from eventd.fields import parse_path
from eventd.keys import HUB
from eventd.store.base import Change
from tests.store.test_conformance import ev
from tests.ws.test_subscribe_checks import still_answers
from tests.ws.test_websocket import Client, changes, connect, post, receive, subscribe


def nested(levels: int) -> Any:
    """Return a value nested `levels` lists deep: [[...[1]...]]."""
    value: Any = 1
    for _ in range(levels):
        value = [value]
    return value


def ids(messages: list[dict[str, Any]]) -> list[str]:
    return [m["event"]["id"] for m in messages]


async def test_live_changes_are_filtered_by_data_values(client: Client) -> None:
    ws = await connect(client)
    await subscribe(ws, "number", filter={"data": {"n": 5}})
    await subscribe(ws, "string", filter={"data": {"n": "5"}})
    await subscribe(ws, "both", filter={"data": {"status": "wait", "/a.b": 1}, "type": "job"})
    await post(
        client,
        [
            {"id": "int", "data": {"n": 5}},
            {"id": "str", "data": {"n": "5"}},
            {"id": "float", "data": {"n": 5.0}},
            {"id": "nested", "type": "job", "data": {"status": "wait", "a": {"b": 1}}},
            {"id": "dotted", "type": "job", "data": {"status": "wait", "a.b": 1}},
            {"id": "other-type", "data": {"status": "wait", "a.b": 1}},
        ],
    )
    got = await changes(ws, 4)
    assert [(m["sub"], m["event"]["id"]) for m in got] == [
        ("number", "int"),
        ("string", "str"),
        ("number", "float"),
        ("both", "dotted"),
    ]
    await still_answers(ws)  # nothing else was queued


async def test_updates_and_deletes_are_sent_as_the_change_leaves_the_event(
    client: Client,
) -> None:
    ws = await connect(client)
    await subscribe(ws, filter={"data": {"status": "wait"}})
    await post(client, {"id": "a", "data": {"status": "start"}})
    await client.patch("/events/a", json={"data": {"status": "wait"}})
    await client.patch("/events/a", json={"data": {"status": "end"}})
    await post(client, {"id": "b", "data": {"status": "wait"}})
    await client.delete("/events/b")
    got = await changes(ws, 3)
    assert [(m["op"], m["event"]["id"]) for m in got] == [
        ("updated", "a"),
        ("created", "b"),
        ("deleted", "b"),
    ]
    await still_answers(ws)


async def test_a_replay_is_filtered_too(client: Client) -> None:
    ws = await connect(client)
    start = (await subscribe(ws, "probe"))["position"]
    await post(
        client, [{"id": f"e{i}", "data": {"status": ["run", "wait"][i % 2]}} for i in range(6)]
    )
    await changes(ws, 6)
    other = await connect(client)
    await subscribe(other, since=start, filter={"data": {"status": "wait"}})
    await post(client, [{"id": "live", "data": {"status": "wait"}}, {"data": {"status": "run"}}])
    assert ids(await changes(other, 4)) == ["e1", "e3", "e5", "live"]
    await still_answers(other)


async def test_every_subscription_shares_one_decoding_of_a_change(client: Client) -> None:
    sockets = [await connect(client) for _ in range(3)]
    paths = ["status", "n", "/a.b", "status"]
    for i, path in enumerate(paths):
        await subscribe(sockets[i % 3], f"s{i}", filter={"data": {path: 1}})
    values = client.app[HUB].values
    before = values.decoded
    await post(client, {"data": {"status": 1, "n": 1, "a.b": 1}})
    subs = [
        sorted(m["sub"] for m in await changes(ws, n))
        for ws, n in zip(sockets, [2, 1, 1], strict=True)
    ]
    assert subs == [["s0", "s3"], ["s1"], ["s2"]]
    assert values.decoded - before == 1


@pytest.mark.parametrize(
    "data",
    [
        {"a..b": 1},
        {"": 1},
        {"/a~2": 1},
        {"n": nested(66)},
        {"a": 1, "/a": 2},
        {f"f{i}": 1 for i in range(17)},
        5,
        ["status"],
    ],
    ids=[
        "empty-segment",
        "empty",
        "bad-escape",
        "deep-value",
        "same-field",
        "too-many",
        "number",
        "list",
    ],
)
async def test_a_bad_data_filter_is_an_error_naming_it(client: Client, data: Any) -> None:
    ws = await connect(client)
    await ws.send_json({"type": "subscribe", "id": "x", "filter": {"data": data}})
    error = await receive(ws)
    assert (error["type"], error["code"], error["id"]) == ("error", "bad_message", "x"), error
    assert "filter.data" in error["message"]
    await still_answers(ws)
    await subscribe(ws, "x")  # the refused id was not taken


async def test_the_stats_channel_refuses_a_data_filter(client: Client) -> None:
    ws = await connect(client)
    await ws.send_json(
        {"type": "subscribe", "id": "x", "channels": ["stats"], "filter": {"data": {"a": 1}}}
    )
    error = await receive(ws)
    assert (error["code"], error["id"]) == ("bad_message", "x")
    assert "filter.data" in error["message"]


def test_recent_values_are_kept_without_their_changes() -> None:
    # A change holds its event's whole data: the cache keeps only the values read from it.
    values = ChangeValues(count=8)
    change = Change(1, "created", ev("a", data=msgspec.Raw(b'{"status":"wait"}')))
    held = sys.getrefcount(change)
    assert values.value(change, parse_path("status")) == '"wait"'
    assert sys.getrefcount(change) == held
    # The same change asked again is answered from the kept values, not decoded again.
    again = Change(1, "created", ev("a", data=msgspec.Raw(b'{"status":"wait"}')))
    assert values.value(again, parse_path("status")) == '"wait"'
    assert values.decoded == 1
    # Other content at that position (a store that lost its history) is read anew.
    other = Change(1, "created", ev("b", data=msgspec.Raw(b'{"status":"end"}')))
    assert values.value(other, parse_path("status")) == '"end"'


@pytest.mark.parametrize(
    ("number", "held"),
    [
        ("18446744073709551616", True),
        ("1" + "0" * 4299, True),  # 4,300 digits: what an event's data may hold
        ("-1.5e308", True),
        ("1" + "0" * 4300, False),
        ("1e400", False),
    ],
    ids=["2**64", "4300-digits", "big-float", "4301-digits", "beyond-float"],
)
async def test_http_and_websocket_accept_the_numbers_events_hold(
    client: Client, number: str, held: bool
) -> None:
    response = await client.get("/events", params={"data.n": number})
    assert response.status == (200 if held else 400), await response.text()
    if not held:
        assert (await response.json())["error"]["field"] == "data.n"
    ws = await connect(client)
    await ws.send_str(
        f'{{"type": "subscribe", "id": "x", "filter": {{"data": {{"n": {number}}}}}}}'
    )
    reply = await receive(ws)
    if held:
        assert reply["type"] == "subscribed", reply
    else:
        assert (reply["type"], reply["code"]) == ("error", "bad_message"), reply
        assert "filter.data" in reply["message"]
    await still_answers(ws)
