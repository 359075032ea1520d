"""`eventd serve` as a real process under a stand-in service manager: READY=1 once it
answers, WATCHDOG=1 while the store worker answers, STOPPING=1 on SIGTERM."""

from __future__ import annotations

import signal
from pathlib import Path

import aiohttp
import pytest

from tests.daemon import Daemon
from tests.redis_server import RedisServer, hung
from tests.systemd.manager import Manager
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

WATCHDOG_USEC = "200000"  # a ping every 0.1 s
SKIPPED = "WATCHDOG=1 not sent"


async def test_ready_once_it_answers_watchdog_repeats_stopping_on_sigterm(tmp_path: Path) -> None:
    with Manager() as manager:
        daemon = Daemon(tmp_path, **manager.env, WATCHDOG_USEC=WATCHDOG_USEC).spawn()
        try:
            ready, before = await manager.until("READY")
            # No retry: the port accepts, and the store answers, by the time READY=1 arrives.
            async with (
                aiohttp.ClientSession() as session,
                session.get(daemon.base + "/health") as response,
            ):
                assert response.status == 200
            assert before == []
            assert ready["STATUS"] == f"serving on 127.0.0.1:{daemon.port}, engine memory"
            for _ in range(3):
                await manager.until("WATCHDOG")
            assert daemon.process is not None
            daemon.process.send_signal(signal.SIGTERM)
            stopping, _ = await manager.until("STOPPING")
            assert stopping["STATUS"] == "stopping"
            assert daemon.process.wait(30) == 0
        finally:
            await daemon.__aexit__(None, None, None)


async def test_without_notify_socket_it_serves_as_before(tmp_path: Path) -> None:
    async with Daemon(tmp_path, WATCHDOG_USEC=WATCHDOG_USEC) as daemon:
        assert await daemon.stop() == 0
    assert "watchdog" not in daemon.log  # no manager: no watchdog either


@pytest.mark.redis
async def test_no_watchdog_ping_while_the_store_worker_is_stuck(
    own_redis: RedisServer, tmp_path: Path
) -> None:
    with Manager() as manager:
        env = manager.env | {"WATCHDOG_USEC": WATCHDOG_USEC}
        daemon = Daemon(
            tmp_path,
            EVENTD_ENGINE="redis",
            EVENTD_ENGINE_REDIS_URL=own_redis.url,
            EVENTD_ENGINE_REDIS_TIMEOUT="1",
            **env,
        )
        async with daemon:
            await manager.until("READY")
            await manager.until("WATCHDOG")
            with hung(own_redis):
                await wait_for(lambda: SKIPPED in daemon.log, "a watchdog ping withheld")
                # Every ping sent before that line has arrived by now: from here on, two
                # checks fail in turn, and nothing may be sent meanwhile.
                skipped = daemon.log.count(SKIPPED)
                manager.drain()
                await wait_for(lambda: daemon.log.count(SKIPPED) >= skipped + 2, "two more")
                sent = [m for m in manager.drain() if "WATCHDOG" in m]
                assert sent == []
            assert "did not answer a ping" in daemon.log
            await manager.until("WATCHDOG")  # Redis answers again: so does the watchdog
            assert await daemon.stop() == 0
