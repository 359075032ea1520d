"""eventd.client against a real daemon: it resumes after a dropped connection, losing nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from eventd.client import HistoryTruncated, Subscriber
from eventd.keys import SOCKETS
from tests.conftest import MakeClient, make_config
from tests.daemon import Daemon
from tests.redis_server import free_port
from tests.waiting import wait_for
from tests.ws.test_replay_overflow import FailingEngine


async def collect(subscriber: Subscriber, count: int, into: list[dict[str, Any]]) -> None:
    async for change in subscriber:
        into.append(change)
        if len(into) == count:
            return


async def test_resumes_after_the_server_drops_it(make_client: MakeClient) -> None:
    client = await make_client()
    received: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        subscriber = Subscriber(session, str(client.make_url("/")), filter={"type": "x"})
        reading = asyncio.create_task(collect(subscriber, 10, received))
        await asyncio.wait_for(subscriber.connected.wait(), 5)
        await client.post("/events", json=[{"type": "x", "id": f"a{i}"} for i in range(4)])
        await wait_for(lambda: len(received) == 4, "the first four changes")
        for ws in list(client.app[SOCKETS]):  # drop every connection from the server side
            await ws.close(code=1012, message=b"restart")
        await client.post(
            "/events", json=[{"type": "y"}, *({"type": "x", "id": f"b{i}"} for i in range(6))]
        )
        await asyncio.wait_for(reading, 10)
    ids = [change["event"]["id"] for change in received]
    assert ids == [f"a{i}" for i in range(4)] + [f"b{i}" for i in range(6)]
    positions = [change["position"] for change in received]
    assert positions == sorted(set(positions))
    assert subscriber.connections == 2


async def test_raises_when_history_is_gone(make_client: MakeClient) -> None:
    client = await make_client(make_config(feed={"history": 64}))
    await client.post("/events", json=[{} for _ in range(100)])
    async with aiohttp.ClientSession() as session:
        subscriber = Subscriber(session, str(client.make_url("/")), since=1)
        with pytest.raises(HistoryTruncated) as raised:
            await asyncio.wait_for(collect(subscriber, 1, []), 5)
    assert raised.value.oldest == 37
    assert raised.value.head == 100


async def test_a_restarted_memory_daemon_is_a_new_epoch(tmp_path: Path) -> None:
    """Positions of a memory daemon begin at 1 again after a restart: resuming at the old
    position would skip the new changes silently. The epoch tells the client instead."""
    received: list[dict[str, Any]] = []
    async with Daemon(tmp_path) as first, aiohttp.ClientSession() as session:
        subscriber = Subscriber(session, first.base, max_delay=0.2)
        reading = asyncio.create_task(collect(subscriber, 1_000, received))
        await asyncio.wait_for(subscriber.connected.wait(), 5)
        async with session.post(f"{first.base}/events", json=[{"id": f"a{i}"} for i in range(3)]):
            pass
        await wait_for(lambda: len(received) == 3, "the three changes")
        assert [c["position"] for c in received] == [1, 2, 3]
        epoch = subscriber.epoch
        assert epoch
        assert await first.stop() == 0
        async with Daemon(tmp_path, port=first.port) as second:
            # The restarted daemon takes five writes before the client is back: positions
            # 1 to 5, of which `since: 3` would replay only 4 and 5.
            async with session.post(
                f"{second.base}/events", json=[{"id": f"b{i}"} for i in range(5)]
            ):
                pass
            with pytest.raises(HistoryTruncated) as raised:
                await asyncio.wait_for(reading, 10)
    assert raised.value.epoch != epoch
    assert raised.value.reason == "epoch"
    assert [c["event"]["id"] for c in received] == ["a0", "a1", "a2"]


async def test_retries_while_the_store_does_not_answer(make_client: MakeClient) -> None:
    engine = FailingEngine()
    client = await make_client(engine=engine)
    await client.post("/events", json=[{"id": f"e{i}"} for i in range(5)])
    engine.fail_at = 2
    received: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        subscriber = Subscriber(session, str(client.make_url("/")), since=2, max_delay=0.05)
        reading = asyncio.create_task(collect(subscriber, 3, received))
        await wait_for(lambda: subscriber.connections >= 2, "a refused subscription to retry")
        assert not reading.done()
        engine.fail_at = None
        await asyncio.wait_for(reading, 5)
    assert [change["event"]["id"] for change in received] == ["e2", "e3", "e4"]


async def test_yields_the_other_messages_asked_for(make_client: MakeClient) -> None:
    client = await make_client()
    async with aiohttp.ClientSession() as session:
        subscriber = Subscriber(
            session, str(client.make_url("/")), channels=["stats"], also=["subscribed", "stats"]
        )
        messages = subscriber.changes()
        subscribed = await asyncio.wait_for(anext(messages), 5)
        snapshot = await asyncio.wait_for(anext(messages), 5)
        await messages.aclose()
    assert subscribed["type"] == "subscribed"
    assert "position" not in subscribed  # a stats-only subscription has none
    assert subscriber.position is None
    assert snapshot["type"] == "stats"
    assert snapshot["windows"]["5m"]["count"] == 0


async def test_tells_why_it_waits_before_each_retry() -> None:
    reasons: list[str] = []
    async with aiohttp.ClientSession() as session:
        subscriber = Subscriber(
            session, f"http://127.0.0.1:{free_port()}", max_delay=0.01, on_retry=reasons.append
        )
        reading = asyncio.create_task(collect(subscriber, 1, []))
        await wait_for(lambda: len(reasons) >= 2, "two retries")
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
    assert all(reason.startswith("connection failed: ") for reason in reasons)
