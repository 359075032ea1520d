"""A Redis that comes back empty, or older, under running daemons is a new history.

Its positions go back or repeat: a daemon that went on as before would wait for positions
that will not come, count what is gone, and hand out positions of the old epoch again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from eventd.keys import HUB
from eventd.store.base import Engine
from tests.conftest import MakeClient
from tests.redis_server import RedisServer
from tests.waiting import wait_for
from tests.ws.test_websocket import Client, connect, post, receive, subscribe


async def count(client: Client) -> int:
    response = await client.get("/stats", params={"window": "5m"})
    assert response.status == 200, await response.text()
    value: int = (await response.json())["count"]
    return value


async def welcome(client: Client) -> dict[str, Any]:
    ws = await client.ws_connect("/ws")
    message = await receive(ws)
    await ws.close()
    return message


async def new_history(client: Client, old: str) -> str:
    """Wait until the daemon took up the store's new history; return its epoch."""
    hub = client.app[HUB]
    await wait_for(lambda: hub.ready and hub.epoch != old, "the hub to begin a new epoch")
    assert hub.epoch is not None
    return hub.epoch


async def closed(ws: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    """Read up to the close frame and return it."""
    # One bound for all: the server's pings would restart a bound on each receive.
    async with asyncio.timeout(30):
        while True:
            message = await ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                return message


@pytest.mark.redis
async def test_a_flushed_redis_is_a_new_history(
    make_client: MakeClient, redis_engine: Engine, redis_server: RedisServer
) -> None:
    client = await make_client(engine=redis_engine)
    await post(client, [{"value": 1} for _ in range(5)])  # positions 1 to 5
    assert await count(client) == 5
    old = (await welcome(client))["epoch"]
    live = await connect(client)
    assert (await subscribe(live))["position"] == 5
    async with aioredis.Redis.from_url(redis_server.url) as redis:
        await redis.flushall()
    await post(client, {"value": 1})  # position 1 of the new history
    close = await closed(live)  # the subscriber is told to resume
    assert (close.type, close.data) == (aiohttp.WSMsgType.CLOSE, 4008), close
    assert close.extra == "slow consumer; last position 5"
    epoch = await new_history(client, old)
    assert await count(client) == 1
    assert (await welcome(client))["epoch"] == epoch
    # Resuming where it was, with the old epoch: its history is gone.
    ws = await connect(client)
    await ws.send_json({"type": "subscribe", "id": "s", "since": 5, "epoch": old})
    truncated = await receive(ws)
    assert (truncated["type"], truncated["reason"]) == ("history_truncated", "epoch")
    assert truncated["epoch"] == epoch
    # The daemon's own writes are in the statistics right after, as before.
    await post(client, {"value": 1})
    assert await count(client) == 2
    await subscribe(ws, "t", since=1, epoch=epoch)
    assert (await receive(ws))["position"] == 2


@pytest.mark.redis
async def test_an_older_snapshot_restored_is_a_new_history(
    make_client: MakeClient, redis_engine: Engine, redis_server: RedisServer
) -> None:
    """The snapshot carries the epoch it was taken in: positions would repeat under it."""
    client = await make_client(engine=redis_engine)
    await post(client, [{"value": 1} for _ in range(3)])
    old = (await welcome(client))["epoch"]
    async with aioredis.Redis.from_url(redis_server.url) as redis:
        snapshot = {key: await redis.dump(key) async for key in redis.scan_iter()}
        await post(client, [{"value": 1} for _ in range(4)])  # positions 4 to 7
        assert await count(client) == 7
        await redis.flushall()
        for key, value in snapshot.items():
            await redis.restore(key, 0, value)
    assert (await redis_engine.stored_epoch()) == old
    epoch = await new_history(client, old)
    assert await count(client) == 3
    assert (await welcome(client))["position"] == 3
    ws = await connect(client)
    await ws.send_json({"type": "subscribe", "id": "s", "since": 3, "epoch": old})
    assert (await receive(ws))["reason"] == "epoch"
    assert await redis_engine.stored_epoch() == epoch


@pytest.mark.redis
async def test_daemons_on_one_flushed_redis_agree_on_the_new_epoch(
    make_client: MakeClient,
    redis_engine: Engine,
    redis_twin: Callable[[], Engine],
    redis_server: RedisServer,
) -> None:
    """Writes after the flush may carry the feed past where a daemon was before it looks."""
    a = await make_client(engine=redis_engine)
    b = await make_client(engine=redis_twin())
    await post(a, [{"value": 1} for _ in range(2)])
    hub_b = b.app[HUB]
    await wait_for(lambda: hub_b.position == 2, "daemon b to follow the feed")
    old = hub_b.epoch
    assert old is not None
    async with aioredis.Redis.from_url(redis_server.url) as redis:
        await redis.flushall()
    await post(a, [{"value": 1} for _ in range(6)])  # positions 1 to 6: past where b was
    first, second = await new_history(a, old), await new_history(b, old)
    assert first == second
    assert (await count(a), await count(b)) == (6, 6)


async def test_daemons_that_notice_one_loss_renew_the_epoch_once(any_engine: Engine) -> None:
    await any_engine.open()
    try:
        old = await any_engine.feed_epoch()
        first = await any_engine.renew_epoch(old)
        again = await any_engine.renew_epoch(old)  # another daemon noticed the same loss
        assert first == again == await any_engine.stored_epoch() == await any_engine.feed_epoch()
        # An in-process store cannot lose its history: it keeps its epoch.
        assert (first == old) == (any_engine.name == "memory")
    finally:
        await any_engine.close()
