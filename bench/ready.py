"""Wait until a server a benchmark started answers: a readiness probe, never a guessed sleep.

A process that has been started is not yet listening: Python still imports, aiohttp runs
the app's start-up, redis-server loads. How long that takes depends on the machine's load,
so a fixed sleep before the first request fails now and then (`wrk` exits 1 on a refused
connection). Each wait here polls a real condition, fails at once if the process exits,
and gives up only after a generous deadline.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import aiohttp

# Generous: a loaded CI machine can take many seconds to start Python and import a server.
START_TIMEOUT = 60.0
POLL = 0.02


class NotReady(RuntimeError):
    """The server did not answer in time, or its process exited first."""


def wait_for(
    ready: Callable[[], bool],
    what: str,
    *,
    process: subprocess.Popen[Any] | None = None,
    timeout: float = START_TIMEOUT,
) -> None:
    """Poll `ready()` until it is true; raise `NotReady` if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not ready():
        _check_alive(process, what)
        if time.monotonic() >= deadline:
            raise NotReady(f"{what} did not answer within {timeout:g} s")
        time.sleep(POLL)


def answers_http(url: str) -> Callable[[], bool]:
    """Return a probe: does `url` give any HTTP answer (a 405 is an answer too)?"""

    def probe() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):  # not listening yet, or reset while starting
            return False

    return probe


def answers_ping(port: int) -> Callable[[], bool]:
    """Return a probe: does the Redis server on this loopback port answer PING?"""

    def probe() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:  # not listening yet, or still loading
            return False

    return probe


async def wait_ready(
    session: aiohttp.ClientSession, base: str, *, process: subprocess.Popen[Any] | None = None
) -> None:
    """Wait until the eventd daemon at `base` answers `GET /health` with 200."""
    try:
        async with asyncio.timeout(START_TIMEOUT):
            while not await _healthy(session, base):
                _check_alive(process, f"eventd at {base}")
                await asyncio.sleep(POLL)
    except TimeoutError as exc:
        raise NotReady(f"eventd at {base} did not answer /health in {START_TIMEOUT:g} s") from exc


async def _healthy(session: aiohttp.ClientSession, base: str) -> bool:
    try:
        async with session.get(f"{base}/health") as response:
            return response.status == 200
    except aiohttp.ClientConnectionError:  # not listening yet
        return False


def _check_alive(process: subprocess.Popen[Any] | None, what: str) -> None:
    if process is not None and process.poll() is not None:
        raise NotReady(f"{what} exited with status {process.returncode} before answering")
