"""A TCP proxy in front of a daemon that a test can close, to keep a client away from it."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType

from tests.redis_server import free_port


class Gate:
    """Forward loopback connections on a port of its own to `port`; while held, every
    connection is closed as soon as it is accepted (the client sees the daemon gone)."""

    def __init__(self, port: int) -> None:
        self.target = port
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.held = False
        self.server: asyncio.Server | None = None
        # The open connections, each as the writers of its two sides.
        self.pipes: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()

    async def __aenter__(self) -> Gate:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self.server is not None
        self.server.close()
        self._cut()
        await self.server.wait_closed()

    def hold(self) -> None:
        """Close every connection through the gate, and each new one until `release`."""
        self.held = True
        self._cut()

    def release(self) -> None:
        """Forward new connections again."""
        self.held = False

    def _cut(self) -> None:
        # Closing both sides ends the copies: each connection's task then ends by itself.
        for client, daemon in self.pipes:
            client.close()
            daemon.close()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.held:
            writer.close()
            return
        try:
            upstream, downstream = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return
        pipe = (writer, downstream)
        self.pipes.add(pipe)
        copies = [
            asyncio.create_task(_copy(reader, downstream)),
            asyncio.create_task(_copy(upstream, writer)),
        ]
        try:
            # Either side's end ends both: a stopped daemon closes the client's connection.
            await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for copy in copies:
                copy.cancel()
            self.pipes.discard(pipe)
            writer.close()
            downstream.close()


async def _copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    # A reset, or a side closed by `hold`, is an end like any other.
    with contextlib.suppress(ConnectionError, RuntimeError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
