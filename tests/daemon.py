"""A real `eventd serve` process for end-to-end tests, with an aiohttp session to talk to it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType

import aiohttp

from tests.redis_server import free_port

REPO = Path(__file__).parents[1]


class Daemon:
    """`eventd serve` on a free loopback port; stderr is kept in a file for assertions."""

    def __init__(self, log_dir: Path, *args: str, port: int | None = None, **env: str) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.args = args
        clean = {k: v for k, v in os.environ.items() if not k.startswith("EVENTD_")}
        self.env = clean | {"EVENTD_SERVER_PORT": str(self.port)} | env
        self.log_path = log_dir / f"eventd-{self.port}-{id(self)}.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    async def start(self) -> Daemon:
        self.spawn()
        return await self.answering()

    def spawn(self) -> Daemon:
        """Start the process without waiting for it to answer."""
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "eventd", "serve", *self.args],
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        return self

    async def answering(self) -> Daemon:
        """Return once the spawned daemon answers /health; fail if it exits first."""
        assert self.process is not None
        async with aiohttp.ClientSession() as session:
            for _ in range(200):  # up to ~10 s
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"eventd exited with {self.process.returncode}: {self.log}"
                    )
                try:
                    async with session.get(f"{self.base}/health") as response:
                        # 503: the daemon serves, but its store does not answer (yet).
                        if response.status in (200, 503):
                            return self
                except aiohttp.ClientConnectionError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"eventd did not answer /health: {self.log}")

    async def stop(self) -> int:
        """Send SIGTERM and return the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        returncode = await asyncio.to_thread(self.process.wait, 30)
        self.process = None
        return returncode

    async def __aenter__(self) -> Daemon:
        return await self.start()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
