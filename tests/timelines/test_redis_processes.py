"""Transitions with real processes: two `eventd serve` daemons share one test Redis. Each
keeps its own index of `status` from the shared change feed, so both answer `/transitions`
alike after writes to either; a restarted daemon rebuilds the same answer from the store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.daemon import Daemon
from tests.redis_server import RedisServer
from tests.reminders.test_redis_processes import on_redis
from tests.waiting import POLL, TIMEOUT

pytestmark = [pytest.mark.slow, pytest.mark.redis]

WINDOW = {"field": "status", "start": "2025-06-01T10:00:00Z", "end": "2025-06-01T11:00:00Z"}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
        yield session


async def post(session: aiohttp.ClientSession, daemon: Daemon, **event: Any) -> str:
    async with session.post(f"{daemon.base}/events", json=event) as response:
        assert response.status == 201, await response.text()
        body = await response.json()
        return str(body["id"])


async def transitions(session: aiohttp.ClientSession, daemon: Daemon) -> Any:
    async with session.get(f"{daemon.base}/transitions", params=WINDOW) as response:
        assert response.status == 200, await response.text()
        return (await response.json())["transitions"]


def counts(found: list[dict[str, Any]]) -> dict[tuple[Any, Any], int]:
    return {(t["from"], t["to"]): t["count"] for t in found}


async def agreed(
    session: aiohttp.ClientSession, daemons: list[Daemon], expected: dict[tuple[Any, Any], int]
) -> list[Any]:
    """Wait until every daemon answers the `expected` counts, and the same figures."""
    answers: list[Any] = []
    try:
        async with asyncio.timeout(TIMEOUT):
            while True:
                answers = [await transitions(session, daemon) for daemon in daemons]
                if all(counts(a) == expected for a in answers) and all(
                    a == answers[0] for a in answers
                ):
                    return answers[0]
                await asyncio.sleep(POLL)  # another daemon's writes come through the feed
    except TimeoutError:
        raise AssertionError(f"the daemons did not agree on {expected}: {answers}") from None


async def test_two_daemons_agree_and_a_restart_rebuilds(
    own_redis: RedisServer, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    first = await on_redis(own_redis, tmp_path).start()
    second = await on_redis(own_redis, tmp_path).start()
    try:
        data = {"status": "start"}
        await post(session, first, key="a", timestamp="2025-06-01T10:00:00Z", data=data)
        data = {"status": "wait"}
        wait = await post(session, second, key="a", timestamp="2025-06-01T10:02:00Z", data=data)
        data = {"status": "end"}
        await post(session, first, key="a", timestamp="2025-06-01T10:05:00Z", data=data)
        data = {"status": "start"}
        await post(session, second, key="b", timestamp="2025-06-01T10:01:00Z", data=data)
        expected = {("start", "wait"): 1, ("wait", "end"): 1}
        answer = await agreed(session, [first, second], expected)

        async with session.delete(f"{first.base}/events/{wait}") as response:
            assert response.status == 204
        await agreed(session, [first, second], {("start", "end"): 1})
        data = {"status": "wait"}
        await post(session, first, key="a", timestamp="2025-06-01T10:02:00Z", data=data)
        answer = await agreed(session, [first, second], expected)

        assert await second.stop() == 0
        await second.start()
        assert await agreed(session, [first, second], expected) == answer
    finally:
        for daemon in (first, second):
            if daemon.process is not None:
                await daemon.stop()
