"""The notify protocol on a real datagram socket: paths, abstract names, the watchdog's
environment, and a manager that is gone."""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventd.systemd.notify import Notifier, monotonic_usec, status, watchdog_interval
from tests.systemd.manager import Manager


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # A socket path holds at most 107 bytes: pytest's own temporary paths can be longer.
    with tempfile.TemporaryDirectory(prefix="sd-") as name:
        yield Path(name)


async def test_a_notification_is_one_datagram_of_lines_at_a_path(short_dir: Path) -> None:
    with Manager(str(short_dir / "notify")) as manager:
        notifier = Notifier.from_environ(manager.env)
        assert notifier.notify("READY=1", status("serving on\n127.0.0.1:8080"))
        assert await manager.next() == {"READY": "1", "STATUS": "serving on 127.0.0.1:8080"}
        notifier.close()


async def test_an_abstract_socket_is_named_with_an_at_sign() -> None:
    with Manager() as manager:
        assert manager.address.startswith("@")
        notifier = Notifier.from_environ(manager.env)
        assert notifier.notify("WATCHDOG=1")
        assert notifier.notify("STOPPING=1")
        assert [await manager.next(), await manager.next()] == [
            {"WATCHDOG": "1"},
            {"STOPPING": "1"},
        ]
        notifier.close()


def test_without_notify_socket_nothing_is_sent() -> None:
    notifier = Notifier.from_environ({})
    assert not notifier.enabled
    assert not notifier.notify("READY=1")


def test_an_address_that_is_not_a_unix_socket_is_not_used(caplog: pytest.LogCaptureFixture) -> None:
    notifier = Notifier.from_environ({"NOTIFY_SOCKET": "vsock:2:1234"})
    assert not notifier.enabled
    assert "not a unix socket" in caplog.text


def test_a_manager_that_is_gone_is_reported_once(
    short_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    notifier = Notifier(str(short_dir / "nobody"))
    with caplog.at_level(logging.WARNING):
        assert not notifier.notify("WATCHDOG=1")
        assert not notifier.notify("WATCHDOG=1")
    assert caplog.text.count("cannot notify the service manager") == 1
    with Manager(str(short_dir / "nobody")):
        assert notifier.notify("WATCHDOG=1")
    notifier.close()


def test_monotonic_usec_reads_clock_monotonic() -> None:
    before = time.monotonic_ns() // 1000
    name, value = monotonic_usec().split("=")
    after = time.monotonic_ns() // 1000
    assert name == "MONOTONIC_USEC"
    assert before <= int(value) <= after


@pytest.mark.parametrize(
    ("env", "interval"),
    [
        ({}, None),
        ({"WATCHDOG_USEC": "30000000"}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}, 15.0),
        ({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid() + 1)}, None),
        ({"WATCHDOG_USEC": "0"}, None),
        ({"WATCHDOG_USEC": "soon"}, None),
    ],
)
def test_the_watchdog_pings_at_half_of_watchdog_usec(
    env: dict[str, str], interval: float | None
) -> None:
    assert watchdog_interval(env) == interval
