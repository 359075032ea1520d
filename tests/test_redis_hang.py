"""A hung Redis (stopped with SIGSTOP, its sockets open) is bounded by `engine.redis.timeout`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.daemon import Daemon
from tests.redis_server import RedisServer, hung
from tests.test_redis_daemon import all_events

pytestmark = [pytest.mark.slow, pytest.mark.redis]

TIMEOUT = 1.0  # engine.redis.timeout of the daemons on a hung Redis, in seconds
IMPORTS, IMPORT_SIZE = 24, 1900  # concurrent NDJSON imports on a healthy Redis


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone, fsyncing every write."""
    server = RedisServer(tmp_path, durable=True)
    server.start()
    yield server
    server.stop(kill=True)


def on_redis(server: RedisServer, tmp_path: Path) -> Daemon:
    return Daemon(
        tmp_path,
        EVENTD_ENGINE="redis",
        EVENTD_ENGINE_REDIS_URL=server.url,
        EVENTD_ENGINE_REDIS_TIMEOUT=str(TIMEOUT),
    )


async def timed(
    session: aiohttp.ClientSession, method: str, url: str, **kw: Any
) -> tuple[int, float]:
    """Return a request's status and how long it took to be answered."""
    started = time.monotonic()
    async with session.request(method, url, **kw) as response:
        await response.read()
        return response.status, time.monotonic() - started


async def test_requests_on_a_hung_redis_answer_503_within_the_timeout(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    acknowledged: set[str] = set()
    session_timeout = aiohttp.ClientTimeout(total=30)  # a hang fails the test, not the run
    async with (
        aiohttp.ClientSession(timeout=session_timeout) as session,
        on_redis(own_redis, tmp_path) as daemon,
    ):

        async def post(n: int) -> tuple[int, float]:
            body = {"id": f"e{n}", "timestamp": 1735689600 + n}
            status, took = await timed(session, "POST", f"{daemon.base}/events", json=body)
            if status == 201:
                acknowledged.add(f"e{n}")
            return status, took

        for n in range(20):
            assert (await post(n))[0] == 201
        with hung(own_redis):
            for wave in range(2):  # the second wave finds the daemon after a hung call
                requests = [post(n) for n in range(100 + 20 * wave, 110 + 20 * wave)]
                requests += [timed(session, "GET", f"{daemon.base}/events") for _ in range(5)]
                requests += [timed(session, "GET", f"{daemon.base}/events/e1") for _ in range(5)]
                answers = await asyncio.gather(*requests)
                assert {status for status, _ in answers} == {503}, answers
                # Each request is bounded by about two timeouts, however many wait behind a
                # hung call (not one timeout each in turn); generous for a loaded machine.
                assert max(took for _, took in answers) < 3 * TIMEOUT + 5, answers
        recovered = None
        for n in range(200, 400):  # bounded: the daemon recovers by itself, no restart
            if (await post(n))[0] == 201:
                recovered = n
                break
            await asyncio.sleep(0.05)
        assert recovered is not None
        for n in range(recovered + 1, recovered + 10):
            assert (await post(n))[0] == 201
        stored = {event["id"] for event in await all_events(session, daemon.base)}
    assert acknowledged <= stored


def ndjson(first: int, count: int) -> bytes:
    lines = (f'{{"id":"i{n}","timestamp":{1735689600 + n},"value":{n}}}' for n in range(count))
    return "\n".join(lines).replace('"id":"i', f'"id":"i{first}-').encode()


async def test_a_healthy_redis_answers_concurrent_imports_and_reads(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    """Requests queued behind long imports wait for them: the default timeout bounds each
    round trip to Redis, not a request's time in the queue."""
    session_timeout = aiohttp.ClientTimeout(total=300)
    async with (
        aiohttp.ClientSession(timeout=session_timeout) as session,
        Daemon(tmp_path, EVENTD_ENGINE="redis", EVENTD_ENGINE_REDIS_URL=own_redis.url) as daemon,
    ):
        assert (await timed(session, "POST", f"{daemon.base}/events", json={"id": "a"}))[0] == 201
        headers = {"Content-Type": "application/x-ndjson"}
        requests = [
            timed(
                session,
                "POST",
                f"{daemon.base}/events",
                data=ndjson(i, IMPORT_SIZE),
                headers=headers,
            )
            for i in range(IMPORTS)
        ]
        requests += [timed(session, "GET", f"{daemon.base}/events/a") for _ in range(10)]
        requests += [timed(session, "GET", f"{daemon.base}/events") for _ in range(10)]
        requests += [
            timed(session, "POST", f"{daemon.base}/events", json={"id": f"s{n}"}) for n in range(10)
        ]
        statuses = [status for status, _ in await asyncio.gather(*requests)]
        assert set(statuses) <= {200, 201}, statuses
        stored = await all_events(session, daemon.base)
        assert len(stored) == 1 + IMPORTS * IMPORT_SIZE + 10
        assert "store request failed" not in daemon.log
