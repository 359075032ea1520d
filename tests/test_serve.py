"""`eventd serve` and `eventd seed` as real processes: flags, start-up order, signals."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis

from tests.daemon import REPO, Daemon
from tests.redis_server import RedisServer, free_port
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

_namespaces = itertools.count()


def run_eventd(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `eventd ARGS` with `env` as its only EVENTD_ variables and a free port by default."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EVENTD_")}
    return subprocess.run(
        [sys.executable, "-m", "eventd", *args],
        cwd=REPO,
        env=clean | {"EVENTD_SERVER_PORT": str(free_port())} | env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


async def arun_eventd(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run_eventd, *args, env=env)


@pytest.fixture
def redis_env(redis_server: RedisServer) -> Iterator[dict[str, str]]:
    """Settings that put a daemon on the shared test redis-server, in a namespace of its own."""
    namespace = f"serve{next(_namespaces)}"
    yield {
        "EVENTD_ENGINE_REDIS_URL": redis_server.url,
        "EVENTD_ENGINE_REDIS_NAMESPACE": namespace,
        "EVENTD_ENGINE_REDIS_TIMEOUT": "1",
    }
    with redis.Redis.from_url(redis_server.url) as client:
        keys = list(client.scan_iter(f"{{{namespace}}}*"))
        if keys:
            client.delete(*keys)


async def get(daemon: Daemon, path: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(daemon.base + path) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def health(daemon: Daemon) -> dict[str, Any]:
    answer: dict[str, Any] = await get(daemon, "/health")
    return answer


async def events(daemon: Daemon) -> list[dict[str, Any]]:
    page: dict[str, list[dict[str, Any]]] = await get(daemon, "/events")
    return page["events"]


async def wait_for_log(daemon: Daemon, text: str) -> None:
    """Wait until the daemon's log shows `text`; fail if it exits first."""
    process = daemon.process
    assert process is not None
    await wait_for(lambda: text in daemon.log or process.poll() is not None, f"{text!r} logged")
    if text not in daemon.log:
        raise AssertionError(f"eventd exited with {process.returncode}: {daemon.log}")


def assert_one_line(result: subprocess.CompletedProcess[str], *names: str) -> str:
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    for name in names:
        assert name in lines[0], lines[0]
    assert "Traceback" not in result.stderr
    return lines[0]


# --- --engine ------------------------------------------------------------------------------


async def test_serve_engine_flag_is_used(tmp_path: Path) -> None:
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        assert (await health(daemon))["engine"] == "memory"


@pytest.mark.redis
async def test_serve_engine_redis_runs_on_redis(tmp_path: Path, redis_env: dict[str, str]) -> None:
    async with Daemon(tmp_path, "--engine", "redis", **redis_env) as daemon:
        assert (await health(daemon))["engine"] == "redis"
        assert "engine redis" in daemon.log


@pytest.mark.redis
async def test_serve_engine_flag_overrides_the_environment(
    tmp_path: Path, redis_env: dict[str, str]
) -> None:
    env = redis_env | {"EVENTD_ENGINE": "memory"}
    async with Daemon(tmp_path, "--engine", "redis", **env) as daemon:
        assert (await health(daemon))["engine"] == "redis"


async def test_serve_unknown_engine_exits_2() -> None:
    result = await arun_eventd("serve", "--engine", "nosuch", env={})
    assert result.returncode == 2, result.stderr
    line = assert_one_line(result, "engine.name", "nosuch")
    assert line.startswith("eventd: configuration error:")


async def test_seed_unknown_engine_exits_2() -> None:
    result = await arun_eventd("seed", "--engine", "nosuch", "--count", "1", env={})
    assert result.returncode == 2, result.stderr
    assert_one_line(result, "engine.name", "nosuch")


@pytest.mark.redis
async def test_seed_engine_redis_fills_redis(tmp_path: Path, redis_env: dict[str, str]) -> None:
    result = await arun_eventd("seed", "--engine", "redis", "--count", "3", env=redis_env)
    assert result.returncode == 0, result.stderr
    async with Daemon(tmp_path, "--engine", "redis", **redis_env) as daemon:
        assert len(await events(daemon)) == 3


# --- start-up order --------------------------------------------------------------------------


@pytest.mark.redis
async def test_clear_on_a_busy_port_keeps_the_store(
    tmp_path: Path, redis_env: dict[str, str]
) -> None:
    result = await arun_eventd("seed", "--engine", "redis", "--count", "1", env=redis_env)
    assert result.returncode == 0, result.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = await arun_eventd(
            "serve", "--clear", "--engine", "redis", "--port", port, env=redis_env
        )
    assert result.returncode == 1, result.stderr
    assert_one_line(result, port)
    async with Daemon(tmp_path, "--engine", "redis", **redis_env) as daemon:
        assert len(await events(daemon)) == 1


async def test_busy_port_without_clear_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = await arun_eventd("serve", env={"EVENTD_SERVER_PORT": str(port)})
    assert result.returncode == 1, result.stderr
    assert_one_line(result, f"127.0.0.1:{port}")


# --- signals -------------------------------------------------------------------------------


async def test_sighup_reloads_and_the_daemon_keeps_serving(tmp_path: Path) -> None:
    # What a reload changes: tests/systemd/test_serve_reload.py.
    async with Daemon(tmp_path) as daemon:
        assert daemon.process is not None
        daemon.process.send_signal(signal.SIGHUP)
        await wait_for_log(daemon, "configuration reloaded")
        assert (await health(daemon))["status"] == "ok"
        assert await daemon.stop() == 0
        assert "eventd stopped" in daemon.log
        assert "Traceback" not in daemon.log


# --- environment ---------------------------------------------------------------------------


async def test_serve_refuses_an_unknown_eventd_variable() -> None:
    env = {"EVENTD_SERVER_PORT": str(free_port()), "EVENTD_SERVR_HOST": "0.0.0.0"}
    result = await arun_eventd("serve", env=env)
    assert result.returncode == 2, result.stderr
    line = assert_one_line(result, "EVENTD_SERVR_HOST")
    assert line.startswith("eventd: configuration error:")


async def test_serve_ignores_test_suite_variables(tmp_path: Path) -> None:
    env = {"EVENTD_TEST_MONGODB_URL": "mongodb://127.0.0.1:1", "EVENTD_TEST_ANYTHING": "x"}
    async with Daemon(tmp_path, **env) as daemon:
        assert (await health(daemon))["status"] == "ok"
        assert "EVENTD_TEST" not in daemon.log
