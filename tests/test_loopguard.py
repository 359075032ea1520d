"""Running out of file descriptors: a raised limit, a bounded log, a daemon that recovers."""

from __future__ import annotations

import asyncio
import errno
import logging
import resource
import subprocess
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import tests.daemon
from eventd.loopguard import ACCEPT_FAILED, AcceptFailureReporter
from tests.daemon import Daemon
from tests.waiting import POLL, TIMEOUT, wait_for

SOFT, HARD = 64, 128
IDLE = 200  # more connections than the daemon's hard limit


class Clock:
    """Monotonic seconds the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def accept_failed(code: int = errno.EMFILE) -> dict[str, Any]:
    return {"message": ACCEPT_FAILED, "exception": OSError(code, "Too many open files")}


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def reporter(clock: Clock) -> AcceptFailureReporter:
    return AcceptFailureReporter(interval=10.0, clock=clock, limit=lambda: 256)


def test_failed_accepts_are_reported_once_per_interval_with_a_count(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock()
    handler = reporter(clock)
    with caplog.at_level(logging.INFO, logger="eventd"):
        for _ in range(5):
            handler(loop, accept_failed())
            clock.now += 1.0
        clock.now += 5.0
        handler(loop, accept_failed())
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "cannot accept connections: too many open files (limit 256)"),
        (
            "WARNING",
            "cannot accept connections: too many open files (limit 256)"
            " (4 more since the previous report)",
        ),
    ]
    assert all(r.exc_info is None for r in caplog.records)


def test_other_accept_failures_say_why(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    context = {"message": ACCEPT_FAILED, "exception": OSError(errno.ENOBUFS, "No buffer space")}
    with caplog.at_level(logging.INFO, logger="eventd"):
        reporter(Clock())(loop, context)
    assert caplog.messages == ["cannot accept connections: No buffer space"]


def test_other_contexts_go_to_the_default_handler(
    loop: asyncio.AbstractEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[dict[str, Any]] = []
    monkeypatch.setattr(loop, "default_exception_handler", seen.append)
    handler = reporter(Clock())
    other = {"message": "Task exception was never retrieved", "exception": ValueError("x")}
    no_exception = {"message": ACCEPT_FAILED}
    handler(loop, other)
    handler(loop, no_exception)
    assert seen == [other, no_exception]


# --- a real daemon short of file descriptors -------------------------------------------------


def _limit_open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (SOFT, HARD))


def _popen_with_limit(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(*args, preexec_fn=_limit_open_files, **kwargs)


@pytest.fixture
def limited(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start the daemons of this test with a low open file limit (soft 64, hard 128)."""
    shim = types.SimpleNamespace(Popen=_popen_with_limit, DEVNULL=subprocess.DEVNULL)
    monkeypatch.setattr(tests.daemon, "subprocess", shim)


async def _open_idle(port: int, count: int) -> list[asyncio.StreamWriter]:
    writers = []
    for _ in range(count):
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writers.append(writer)
    return writers


async def _close(writers: list[asyncio.StreamWriter]) -> None:
    for writer in writers:
        writer.close()
    await asyncio.gather(*(w.wait_closed() for w in writers), return_exceptions=True)


async def _healthy(daemon: Daemon) -> bool:
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{daemon.base}/health") as response,
        ):
            return response.status == 200
    except aiohttp.ClientError:
        return False


def _accept_lines(daemon: Daemon) -> list[str]:
    return [line for line in daemon.log.splitlines() if "accept" in line]


async def _wait_healthy(daemon: Daemon) -> None:
    async with asyncio.timeout(TIMEOUT):
        # Nothing announces the end of the shortage but an answer to a request.
        while not await _healthy(daemon):  # noqa: ASYNC110
            await asyncio.sleep(POLL)


async def test_idle_connections_past_the_limit_log_little_and_the_daemon_recovers(
    tmp_path: Path, limited: None
) -> None:
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        assert f"open file limit: {HARD}" in daemon.log
        writers = await _open_idle(daemon.port, IDLE)
        try:
            await wait_for(lambda: bool(_accept_lines(daemon)), "a failed accept in the log")
        finally:
            await _close(writers)
        await _wait_healthy(daemon)
        lines = _accept_lines(daemon)
        assert 1 <= len(lines) <= 5, lines
        assert "cannot accept connections: too many open files (limit 128)" in lines[0]
        assert "Traceback" not in daemon.log
