"""A stand-in for the service manager: a real AF_UNIX datagram socket given as NOTIFY_SOCKET."""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
from types import TracebackType

from tests.waiting import TIMEOUT

_names = itertools.count()
Message = dict[str, str]


def parse(datagram: bytes) -> Message:
    """Return the assignments of one notification, by variable."""
    pairs = (line.split("=", 1) for line in datagram.decode().split("\n") if line)
    return {name: value for name, value in pairs}


class Manager:
    """Receives notifications on an abstract socket (`@...`) or at `path`."""

    def __init__(self, path: str | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        if path is None:
            name = f"eventd-test-{os.getpid()}-{next(_names)}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            self.sock.bind(path)
            self.address = path
        self.received: list[Message] = []

    @property
    def env(self) -> dict[str, str]:
        return {"NOTIFY_SOCKET": self.address}

    async def next(self) -> Message:
        """Return the next notification; fail after the tests' timeout."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(TIMEOUT):
                datagram = await loop.sock_recv(self.sock, 65536)
        except TimeoutError:
            raise AssertionError(
                f"no notification in {TIMEOUT:g} s after {self.received}"
            ) from None
        message = parse(datagram)
        self.received.append(message)
        return message

    async def until(self, name: str, value: str = "1") -> tuple[Message, list[Message]]:
        """Return the first notification that sets `name` to `value`, and those before it."""
        before: list[Message] = []
        while (message := await self.next()).get(name) != value:
            before.append(message)
        return message, before

    def drain(self) -> list[Message]:
        """Return the notifications that arrived and were not read yet."""
        drained: list[Message] = []
        while True:
            try:
                datagram = self.sock.recv(65536)
            except BlockingIOError:
                return drained
            drained.append(parse(datagram))
            self.received.append(drained[-1])

    def __enter__(self) -> Manager:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.sock.close()
