"""The feed's epoch: sent in `welcome` and `subscribed`, checked on resume, renewed by a clear."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from eventd.keys import HUB
from eventd.store.base import Engine
from eventd.store.mongo import MongoEngine
from tests.conftest import MakeClient
from tests.waiting import wait_for
from tests.ws.test_websocket import changes, connect, post, receive, subscribe

Client = TestClient[Any, Any]


async def welcome_epoch(client: Client) -> str:
    ws = await client.ws_connect("/ws")
    welcome = await receive(ws)
    await ws.close()
    epoch: str = welcome["epoch"]
    return epoch


async def test_welcome_and_subscribed_carry_the_epoch(client: Client) -> None:
    epoch = await welcome_epoch(client)
    assert isinstance(epoch, str) and epoch
    ws = await connect(client)
    assert (await subscribe(ws))["epoch"] == epoch
    assert await welcome_epoch(client) == epoch  # the same for every connection


async def test_a_resume_from_another_epoch_is_truncated(client: Client) -> None:
    await post(client, [{"id": f"e{i}"} for i in range(5)])
    epoch = await welcome_epoch(client)
    ws = await connect(client)
    await ws.send_json({"type": "subscribe", "id": "s", "since": 2, "epoch": "another"})
    truncated = await receive(ws)
    assert truncated["type"] == "history_truncated", truncated
    assert (truncated["id"], truncated["since"], truncated["epoch"]) == ("s", 2, epoch)
    assert truncated["reason"] == "epoch"
    await subscribe(ws, "s", since=2, epoch=epoch)  # the same epoch: the replay follows
    assert [m["event"]["id"] for m in await changes(ws, 3)] == ["e2", "e3", "e4"]


async def test_a_clear_begins_a_new_epoch(client: Client) -> None:
    await post(client, [{"id": "a"}, {"id": "b"}])
    old = await welcome_epoch(client)
    ws = await connect(client)
    subscribed = await subscribe(ws)
    assert (await client.delete("/events?confirm=true")).status == 200
    cleared = await receive(ws)
    while cleared["op"] != "cleared":  # a polling feed (mongo) may still bring a and b first
        cleared = await receive(ws)
    new = cleared["epoch"]
    assert cleared["op"] == "cleared" and new != old
    assert await welcome_epoch(client) == new
    await post(client, {"id": "c"})
    [created] = await changes(ws, 1)
    assert "epoch" not in created
    # One who missed the clear resumes with the old epoch: its history is gone.
    late = await connect(client)
    since = subscribed["position"]
    await late.send_json({"type": "subscribe", "id": "s", "since": since, "epoch": old})
    assert (await receive(late))["type"] == "history_truncated"
    # One who saw it (and took its epoch) resumes across it.
    await subscribe(late, "t", since=cleared["position"], epoch=new)
    assert [m["event"]["id"] for m in await changes(late, 1)] == ["c"]


async def wait_for_epoch(client: Client, epoch: str) -> None:
    hub = client.app[HUB]
    await wait_for(lambda: hub.epoch == epoch, f"the hub's epoch to become {epoch}")


async def test_daemons_on_one_redis_share_the_epoch(
    make_client: MakeClient, redis_engine: Engine, redis_twin: Callable[[], Engine]
) -> None:
    a = await make_client(engine=redis_engine)
    b = await make_client(engine=redis_twin())
    epoch = await welcome_epoch(a)
    assert await welcome_epoch(b) == epoch
    assert (await a.delete("/events?confirm=true")).status == 200
    new = await a.app[HUB].engine.feed_epoch()  # the store's; each hub takes it from the feed
    assert new != epoch
    await wait_for_epoch(a, new)
    assert await welcome_epoch(a) == new
    await wait_for_epoch(b, new)
    assert await welcome_epoch(b) == new
    c = await make_client(engine=redis_twin())  # a daemon started later reads it from Redis
    assert await welcome_epoch(c) == new


async def test_engines_on_one_mongodb_share_the_epoch() -> None:
    from mongomock_motor import AsyncMongoMockClient

    mongo = AsyncMongoMockClient()
    first, second = MongoEngine("mongodb://mock", client=mongo), MongoEngine("x", client=mongo)
    await first.open()
    await second.open()
    assert await first.feed_epoch() == await second.feed_epoch()
    await second.clear()
    assert await first.feed_epoch() == await second.feed_epoch()
    other = MongoEngine("mongodb://mock", client=AsyncMongoMockClient())
    await other.open()
    assert await other.feed_epoch() != await first.feed_epoch()  # another store, another epoch
