"""GET /health proves the store answers: 503 and the failed part while Redis is away or hung."""

from __future__ import annotations

import asyncio
import os
import signal
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from eventd.store.base import Change, StorageError
from eventd.store.memory import MemoryEngine
from eventd.store.redis.engine import RedisEngine
from tests.conftest import MakeClient
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis

TIMEOUT = 0.5
Client = TestClient[Any, Any]


@pytest.fixture
async def client(make_client: MakeClient, own_redis: RedisServer) -> Client:
    return await make_client(engine=RedisEngine(own_redis.url, timeout=TIMEOUT))


async def health(client: Client) -> tuple[int, dict[str, Any]]:
    response = await client.get("/health")
    return response.status, await response.json()


async def until_health(client: Client, check: Any) -> dict[str, Any]:
    """Poll /health until `check(status, body)` holds (bounded)."""
    answers = []
    for _ in range(200):
        status, body = await health(client)
        if check(status, body):
            return body
        answers.append((status, body))
        await asyncio.sleep(0.05)
    raise AssertionError(f"/health never got there: {answers[-3:]}")


def is_ok(status: int, body: dict[str, Any]) -> bool:
    return status == 200 and body["status"] == "ok"


async def test_health_is_ok_with_every_part_when_the_store_answers(client: Client) -> None:
    status, body = await health(client)
    assert status == 200
    assert body["status"] == "ok"
    assert body["checks"] == {"store": "ok", "feed": "ok"}
    assert {"server_time", "engine", "version", "backlog"} <= body.keys()


async def test_health_is_unavailable_while_redis_is_hung(
    client: Client, own_redis: RedisServer
) -> None:
    assert own_redis.process is not None
    os.kill(own_redis.process.pid, signal.SIGSTOP)
    try:
        response = await client.get("/health")
        body = await response.json()
        assert response.status == 503
        assert "Retry-After" in response.headers
        assert body["status"] == "unavailable"
        assert body["checks"]["store"] == "unavailable"
        assert "store" in body["errors"]
        assert {"server_time", "engine", "version", "backlog"} <= body.keys()
    finally:
        os.kill(own_redis.process.pid, signal.SIGCONT)
    body = await until_health(client, is_ok)
    assert body["checks"] == {"store": "ok", "feed": "ok"}


async def test_health_names_the_store_and_the_feed_while_redis_is_down(
    client: Client, own_redis: RedisServer
) -> None:
    await asyncio.to_thread(own_redis.stop, kill=True)
    body = await until_health(
        client, lambda status, body: status == 503 and "feed" in body.get("errors", {})
    )
    assert body["status"] == "unavailable"
    assert body["checks"] == {"store": "unavailable", "feed": "unavailable"}
    await asyncio.to_thread(own_redis.start)  # the same port again
    await until_health(client, is_ok)


class OneFailedRead(MemoryEngine):
    """A store whose feed read fails once, as one read cut by a timeout during an import."""

    def __init__(self) -> None:
        super().__init__()
        self.timeout = 5.0
        self.reads = 0
        self.retried = asyncio.Event()

    async def wait_changes(self, after: int, block: float) -> list[Change]:
        self.reads += 1
        if self.reads == 2:
            raise StorageError("memory: no answer within 5 s")
        if self.reads == 3:
            self.retried.set()  # the hub reads again after its failure
        return await super().wait_changes(after, block)


async def test_one_failed_feed_read_does_not_make_the_feed_unavailable(
    make_client: MakeClient,
) -> None:
    engine = OneFailedRead()
    client = await make_client(engine=engine)
    await engine.retried.wait()
    status, body = await health(client)
    assert (status, body["checks"]) == (200, {"store": "ok", "feed": "ok"}), body
