"""The daemon on the redis engine, end to end: restart, outage, --clear and seed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from eventd.client import Subscriber
from tests.daemon import REPO, Daemon
from tests.redis_server import RedisServer

pytestmark = [pytest.mark.slow, pytest.mark.redis]


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone, fsyncing every write to its append-only file."""
    server = RedisServer(tmp_path, durable=True)
    server.start()
    yield server
    server.stop()


def on_redis(server: RedisServer, tmp_path: Path, *args: str, port: int | None = None) -> Daemon:
    return Daemon(
        tmp_path,
        *args,
        port=port,
        EVENTD_ENGINE="redis",
        EVENTD_ENGINE_REDIS_URL=server.url,
        EVENTD_ENGINE_REDIS_TIMEOUT="1",
    )


async def all_events(session: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 1000}
    for _ in range(1000):
        async with session.get(f"{base}/events", params=params) as response:
            assert response.status == 200, await response.text()
            page = await response.json()
        events += page["events"]
        if page["next_cursor"] is None:
            return events
        params["cursor"] = page["next_cursor"]
    raise AssertionError("the pages never ended")


async def test_everything_survives_a_daemon_restart(
    durable_redis: RedisServer, tmp_path: Path
) -> None:
    written: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        async with on_redis(durable_redis, tmp_path) as first:
            for i in range(50):
                body = {"timestamp": 1735689600 + i / 7, "type": "t", "data": {"i": i}}
                async with session.post(f"{first.base}/events", json=body) as response:
                    assert response.status == 201
                    written.append(await response.json())
            batch = [{"at": f"2300-01-01T00:00:00.{i:06d}Z", "key": "k"} for i in range(150)]
            async with session.post(f"{first.base}/events", json=batch) as response:
                assert response.status == 201
                written += (await response.json())["events"]
            assert await first.stop() == 0
        async with on_redis(durable_redis, tmp_path) as second:
            stored = await all_events(session, second.base)
    assert stored == sorted(written, key=lambda e: e["timestamp"])


async def test_outage_answers_503_then_recovers_losing_nothing(
    durable_redis: RedisServer, tmp_path: Path
) -> None:
    acknowledged: set[str] = set()
    statuses: list[int] = []
    timeout = aiohttp.ClientTimeout(total=10)  # a hang fails the test
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        on_redis(durable_redis, tmp_path) as daemon,
    ):

        async def post(n: int) -> int:
            body = {"id": f"e{n}", "timestamp": 1735689600 + n}
            async with session.post(f"{daemon.base}/events", json=body) as response:
                if response.status == 201:
                    acknowledged.add(f"e{n}")
                elif response.status == 503:
                    assert "Retry-After" in response.headers
                    assert (await response.json())["error"]["code"] == "unavailable"
                statuses.append(response.status)
                return response.status

        for n in range(30):
            assert await post(n) == 201
        await asyncio.to_thread(durable_redis.stop, kill=True)  # mid-traffic, no goodbye
        down = [await post(n) for n in range(30, 40)]
        assert set(down) == {503}
        assert (await session.get(f"{daemon.base}/events")).status == 503
        await asyncio.to_thread(durable_redis.start)
        recovered = None
        for n in range(40, 240):  # bounded: the daemon must reconnect by itself
            if await post(n) == 201:
                recovered = n
                break
            await asyncio.sleep(0.05)
        assert recovered is not None, statuses
        for n in range(recovered + 1, recovered + 20):
            assert await post(n) == 201
        stored = {e["id"] for e in await all_events(session, daemon.base)}
    assert acknowledged <= stored
    assert 500 not in statuses


async def test_serve_clear_empties_the_store(durable_redis: RedisServer, tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        async with on_redis(durable_redis, tmp_path) as first:
            await session.post(f"{first.base}/events", json=[{}, {}, {}])
            assert await first.stop() == 0
        async with on_redis(durable_redis, tmp_path, "--clear") as second:
            assert await all_events(session, second.base) == []
            assert "3 events deleted" in second.log


async def test_seed_fills_the_store_with_progress(
    durable_redis: RedisServer, tmp_path: Path
) -> None:
    daemon = on_redis(durable_redis, tmp_path)
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "eventd", "seed", "--count", "5000", "--spread", "2d"],
        cwd=REPO,
        env=daemon.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "5,000/5,000 (100%)" in result.stderr
    assert "seeded 5,000 events" in result.stderr
    async with aiohttp.ClientSession() as session, daemon:
        events = await all_events(session, daemon.base)
    assert len(events) == 5000
    assert len({e["type"] for e in events}) > 1
    assert all(isinstance(e["value"], float) for e in events)


async def test_feed_across_two_daemons_and_a_restart(
    durable_redis: RedisServer, tmp_path: Path
) -> None:
    """A subscriber of daemon B gets what is POSTed to daemon A, exactly once, also across a
    restart of B (the client reconnects and resumes by itself)."""
    received: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session, on_redis(durable_redis, tmp_path) as a:
        b = await on_redis(durable_redis, tmp_path).start()
        subscriber = Subscriber(session, b.base, first_delay=0.02, max_delay=0.2)

        async def consume() -> None:
            async for change in subscriber:
                received.append(change)
                if len(received) == 8:
                    return

        reading = asyncio.create_task(consume())
        try:
            await asyncio.wait_for(subscriber.connected.wait(), 10)
            for i in range(3):
                await session.post(f"{a.base}/events", json={"id": f"before-{i}"})
            for _ in range(200):  # bounded wait for them to arrive through B
                if len(received) == 3:
                    break
                await asyncio.sleep(0.02)
            assert await b.stop() == 0
            for i in range(5):
                await session.post(f"{a.base}/events", json={"id": f"during-{i}"})
            b = await on_redis(durable_redis, tmp_path, port=b.port).start()
            await asyncio.wait_for(reading, 20)
        finally:
            reading.cancel()
            await b.__aexit__(None, None, None)
    ids = [change["event"]["id"] for change in received]
    assert ids == [f"before-{i}" for i in range(3)] + [f"during-{i}" for i in range(5)]
    assert subscriber.connections >= 2


async def test_starts_while_redis_is_down_and_catches_up(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, durable=True)  # not started yet
    async with aiohttp.ClientSession() as session, on_redis(server, tmp_path) as daemon:
        async with session.get(f"{daemon.base}/health") as response:
            assert response.status == 503
            assert (await response.json())["checks"]["store"] == "unavailable"
        async with session.post(f"{daemon.base}/events", json={"value": 1}) as response:
            assert response.status == 503
        await asyncio.to_thread(server.start)
        try:
            for _ in range(200):  # bounded: reconnects by itself
                async with session.post(f"{daemon.base}/events", json={"value": 2}) as response:
                    if response.status == 201:
                        break
                await asyncio.sleep(0.05)
            for _ in range(200):
                async with session.get(f"{daemon.base}/stats", params={"window": "5m"}) as response:
                    # 503 while the windows have not caught up with the write: the feed reads
                    # again only after its backoff.
                    assert response.status in (200, 503), await response.text()
                    if response.status == 200 and (await response.json())["count"] == 1:
                        break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the windows never counted the event")
            for _ in range(200):  # the feed reads again after its backoff
                async with session.get(f"{daemon.base}/health") as response:
                    if response.status == 200:
                        break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"/health never said ok: {await response.text()}")
            assert await daemon.stop() == 0
        finally:
            server.stop()
