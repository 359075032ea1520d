"""`eventd tail` on a terminal and in pipelines: colours, a closed pipe, bad arguments."""

from __future__ import annotations

import asyncio
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.daemon import REPO, Daemon
from tests.tail.process import Tail, post, tail_env
from tests.waiting import TIMEOUT

pytestmark = pytest.mark.slow


class Terminal:
    """The reading side of a pseudo-terminal, collecting what is written to it."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        self.output = b""
        self.changed = asyncio.Event()

    def __enter__(self) -> Terminal:
        asyncio.get_running_loop().add_reader(self.master, self._read)
        return self

    def __exit__(self, *exc_info: object) -> None:
        asyncio.get_running_loop().remove_reader(self.master)
        os.close(self.master)

    def _read(self) -> None:
        try:
            self.output += os.read(self.master, 65536)
        except OSError:  # EIO: every writer has closed the terminal
            asyncio.get_running_loop().remove_reader(self.master)
        self.changed.set()

    async def shows(self, text: bytes) -> None:
        async with asyncio.timeout(TIMEOUT):
            while text not in self.output:
                self.changed.clear()
                await self.changed.wait()


@pytest.mark.parametrize("no_color", [None, "1"], ids=["colour", "NO_COLOR"])
async def test_colours_only_on_a_terminal(tmp_path: Path, no_color: str | None) -> None:
    env = tail_env() if no_color is None else tail_env(NO_COLOR=no_color)
    async with Daemon(tmp_path) as daemon:
        with Terminal() as terminal:
            async with Tail("--url", daemon.base, env=env, stdout=terminal.slave) as tail:
                os.close(terminal.slave)  # the tail holds its own copy
                await tail.said("following")
                await post(daemon.base, {"type": "deploy", "title": "painted"})
                await terminal.shows(b"painted")
    line = terminal.output.decode()
    if no_color is None:
        assert "\x1b[32mcreated" in line  # green
        assert "\x1b[2m" in line  # dim time and position
    else:
        assert "\x1b" not in line
        assert " created " in line


async def test_a_closed_pipe_ends_it_quietly(tmp_path: Path) -> None:
    reading, writing = os.pipe()
    async with Daemon(tmp_path) as daemon, Tail("--url", daemon.base, stdout=writing) as tail:
        os.close(writing)
        await tail.said("following")
        os.close(reading)  # as `eventd tail | head -1` does once it has its line
        await post(daemon.base, {"title": "nobody reads this"})
        assert await tail.wait() == 0
        assert await tail.rest_of_stderr() == []


async def test_an_escape_sequence_in_a_title_does_not_reach_the_terminal(tmp_path: Path) -> None:
    async with Daemon(tmp_path) as daemon:
        with Terminal() as terminal:
            async with Tail("--url", daemon.base, stdout=terminal.slave) as tail:
                os.close(terminal.slave)
                await tail.said("following")
                await post(daemon.base, {"title": "evil\x1b]0;owned\x07\nfake line"})
                await terminal.shows(b"fake line")
    assert b"evil\\x1b]0;owned\\x07\\x0afake line" in terminal.output
    assert b"\x1b]" not in terminal.output


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--since", "-1"], "--since"),
        (["--since", "x"], "--since"),
        (["--since", str(2**63)], "--since"),
        (["--since"], "--since"),
        (["--channels", "events,bogus"], "--channels"),
        (["--channels", ""], "--channels"),
        (["--type", "a,,b"], "--type"),
        (["--key", ""], "--key"),
        (["--url", "ftp://host"], "--url"),
        (["--url", "http://host:99999"], "--url"),
        (["--url", "http://host/?q=1"], "--url"),
        (["--channels", "stats", "--key", "web"], "--key"),
        (["--channels", "stats", "--since", "3"], "--since"),
        (["--bogus"], "--bogus"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], option: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eventd", "tail", *args],
        cwd=REPO,
        env=tail_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert option in line
    assert line.startswith("eventd")


def test_a_config_port_of_0_asks_for_url() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "eventd", "tail"],
        cwd=REPO,
        env=tail_env(EVENTD_SERVER_PORT="0"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "eventd tail: --url: the configuration's server.port is 0 (any free port)"
    ]
