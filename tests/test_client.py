"""eventd.client against a real daemon: it resumes after a dropped connection, losing nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from eventd.client import HistoryTruncated, Subscriber
from eventd.keys import SOCKETS
from tests.conftest import MakeClient, make_config


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
        for _ in range(100):  # bounded wait for the first four
            if len(received) == 4:
                break
            await asyncio.sleep(0.01)
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
