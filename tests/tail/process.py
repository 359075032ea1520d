"""`eventd tail` as a real process, its output read line by line as it comes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

import aiohttp

from tests.daemon import REPO
from tests.waiting import TIMEOUT


def tail_env(**extra: str) -> dict[str, str]:
    """The test's environment without stray EVENTD_ settings or colour preferences."""
    drop = ("EVENTD_", "NO_COLOR")
    return {k: v for k, v in os.environ.items() if not k.startswith(drop)} | extra


class Tail:
    """`eventd tail ARGS` with stdout and stderr piped; stopped (killed) on exit."""

    def __init__(
        self, *args: str, env: dict[str, str] | None = None, stdout: int | None = None
    ) -> None:
        self.args = args
        self.env = env or tail_env()
        self.stdout = asyncio.subprocess.PIPE if stdout is None else stdout  # or a file descriptor
        self.process: asyncio.subprocess.Process | None = None
        self.errors: list[str] = []  # the stderr lines read so far
        self.lines: list[str] = []  # the stdout lines read so far

    async def __aenter__(self) -> Tail:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "eventd",
            "tail",
            *self.args,
            cwd=REPO,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=self.stdout,
            stderr=asyncio.subprocess.PIPE,
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def line(self) -> str:
        """Return the next line of stdout, without its newline."""
        assert self.process is not None and self.process.stdout is not None
        text = await _read_line(self.process.stdout, "a line on stdout", self)
        self.lines.append(text)
        return text

    async def lines_until(self, done: Callable[[str], bool]) -> list[str]:
        """Return the stdout lines read up to and including the first one `done` accepts."""
        found = []
        while True:
            found.append(await self.line())
            if done(found[-1]):
                return found

    async def said(self, text: str) -> str:
        """Return the next stderr line that contains `text`, reading those before it."""
        assert self.process is not None and self.process.stderr is not None
        while True:
            line = await _read_line(self.process.stderr, f"{text!r} on stderr", self)
            self.errors.append(line)
            if text in line:
                return line

    async def wait(self) -> int:
        """Return the exit status once the process has ended by itself."""
        assert self.process is not None
        async with asyncio.timeout(TIMEOUT):
            return await self.process.wait()

    async def interrupt(self) -> int:
        """Send SIGINT, as Ctrl-C does, and return the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        return await self.wait()

    async def rest_of_stderr(self) -> list[str]:
        """Return the stderr lines not read yet, once the process has exited."""
        assert self.process is not None and self.process.stderr is not None
        async with asyncio.timeout(TIMEOUT):
            rest = (await self.process.stderr.read()).decode()
        return rest.splitlines()


async def _read_line(stream: asyncio.StreamReader, what: str, tail: Tail) -> str:
    try:
        async with asyncio.timeout(TIMEOUT):
            raw = await stream.readline()
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}; stderr: {tail.errors}") from None
    if not raw:
        raise AssertionError(f"eventd tail ended before {what}; stderr: {tail.errors}")
    return raw.decode().rstrip("\n")


async def post(base: str, event: Any, *, method: str = "POST", path: str = "/events") -> Any:
    """Send `event` to the daemon and return the answer's JSON."""
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{base}{path}", json=event) as response,
    ):
        assert response.status < 300, await response.text()
        return None if response.status == 204 else await response.json()
