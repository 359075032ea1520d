"""What a real `eventd serve` writes to its log on client faults and on a store outage."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.daemon import Daemon
from tests.redis_server import RedisServer
from tests.waiting import wait_for

pytestmark = pytest.mark.slow


async def until_logged(daemon: Daemon, *texts: str) -> str:
    """Wait (bounded) until the daemon's log holds one of `texts`; return the log."""
    await wait_for(lambda: any(text in daemon.log for text in texts), f"one of {texts} logged")
    return daemon.log


async def test_a_client_leaving_mid_body_is_no_error(tmp_path: Path) -> None:
    async with Daemon(tmp_path, EVENTD_LOG_LEVEL="debug") as daemon:
        _, writer = await asyncio.open_connection("127.0.0.1", daemon.port)
        body = b'{"type": "half", "data": "' + b"x" * 5000
        writer.write(
            b"POST /events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (2 * len(body)) + body
        )
        await writer.drain()
        writer.close()  # half the body sent, then gone
        await writer.wait_closed()
        await until_logged(daemon, "client went away", "ERROR")
        async with (  # the daemon still serves
            aiohttp.ClientSession() as session,
            session.get(f"{daemon.base}/health") as response,
        ):
            assert response.status == 200
        assert await daemon.stop() == 0
        log = daemon.log
    assert "ERROR" not in log
    assert "Traceback" not in log


@pytest.mark.redis
async def test_a_store_outage_is_summarised_in_the_log(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        daemon = Daemon(
            tmp_path,
            EVENTD_ENGINE="redis",
            EVENTD_ENGINE_REDIS_URL=server.url,
            EVENTD_ENGINE_REDIS_TIMEOUT="1",
        )
        async with aiohttp.ClientSession() as session, daemon:
            await asyncio.to_thread(server.stop, kill=True)
            for n in range(100):
                method = "POST" if n % 2 else "GET"
                async with session.request(method, f"{daemon.base}/events", json={}) as response:
                    assert response.status == 503
            await asyncio.to_thread(server.start)
            for _ in range(200):  # bounded: the daemon reconnects by itself
                async with session.post(f"{daemon.base}/events", json={}) as response:
                    if response.status == 201:
                        break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the store never answered again")
            log = await until_logged(daemon, "succeed again")
            assert await daemon.stop() == 0
    finally:
        server.stop()
    warnings = [line for line in log.splitlines() if " WARNING " in line]
    assert 1 <= len(warnings) <= 5, warnings
    assert "ERROR" not in log and "Traceback" not in log


@pytest.mark.redis
async def test_stats_rebuild_retries_while_redis_is_down_warn_once(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)  # started only once the daemon has retried a few times
    daemon = Daemon(
        tmp_path,
        EVENTD_ENGINE="redis",
        EVENTD_ENGINE_REDIS_URL=server.url,
        EVENTD_ENGINE_REDIS_TIMEOUT="1",
        EVENTD_LOG_LEVEL="debug",
    )
    try:
        async with daemon:
            await until_logged(daemon, "retrying in 2.0 s")  # the third failed rebuild
            await asyncio.to_thread(server.start)
            log = await until_logged(daemon, "stats: windows rebuilt")
            assert await daemon.stop() == 0
    finally:
        server.stop()
    warnings = [line for line in log.splitlines() if " WARNING eventd.stats" in line]
    assert len(warnings) == 1, warnings
