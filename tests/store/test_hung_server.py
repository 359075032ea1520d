"""Engine calls on a server that accepts connections but never answers are bounded."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable

import pytest

from eventd.store.base import Query, StorageError
from eventd.store.commands import Get, PutMany, RunQuery
from eventd.store.mongo import MongoEngine
from eventd.store.worker import StoreWorker
from tests.store.test_conformance import ev

TIMEOUT = 1.0


@pytest.fixture
async def hung_port() -> AsyncIterator[int]:
    """Listen on a loopback port; read whatever comes and never answer."""
    readers: list[asyncio.Task[None]] = []
    writers: list[asyncio.StreamWriter] = []

    async def swallow(reader: asyncio.StreamReader) -> None:
        while await reader.read(65536):
            pass

    def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        readers.append(asyncio.create_task(swallow(reader)))

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    for writer in writers:
        writer.close()
    await asyncio.gather(*(writer.wait_closed() for writer in writers), return_exceptions=True)
    await server.wait_closed()


@pytest.mark.mongo
async def test_mongo_calls_on_a_hung_server_fail_within_the_timeout(hung_port: int) -> None:
    engine = MongoEngine(f"mongodb://127.0.0.1:{hung_port}/?directConnection=true", timeout=TIMEOUT)
    worker = StoreWorker(engine)
    await worker.start()
    try:

        async def timed(call: Awaitable[object]) -> float:
            started = time.monotonic()
            with pytest.raises(StorageError):
                await call
            return time.monotonic() - started

        calls: list[Awaitable[object]] = [worker.call(Get(f"e{i}")) for i in range(4)]
        calls += [worker.call(PutMany([ev(f"p{i}")])) for i in range(4)]
        calls += [worker.call(RunQuery(Query())) for _ in range(4)]
        took = await asyncio.gather(*(timed(call) for call in calls))
        # However many wait behind a hung call, none waits for each hung call in turn (12 of
        # them): the bound is generous so that a loaded machine does not fail the test.
        assert max(took) < 3 * TIMEOUT + 2, took
    finally:
        await worker.stop(drain_timeout=1)
