"""The feed hub stops even when a store client swallows the cancellation of a blocking read."""

from __future__ import annotations

import asyncio

import pytest

from eventd.feed import Hub
from eventd.store.base import Change
from eventd.store.memory import MemoryEngine


class SwallowingEngine(MemoryEngine):
    """Loses the first cancellation of a blocking read, as redis-py can (redis/redis-py#2028).

    Only the first: should the hub hang, the event loop's own cancellation at teardown ends it.
    """

    swallowed = False

    def __init__(self) -> None:
        super().__init__()
        self.blocking = asyncio.Event()  # set when a blocking read begins

    async def wait_changes(self, after: int, block: float) -> list[Change]:
        self.blocking.set()
        try:
            return await super().wait_changes(after, block)
        except asyncio.CancelledError:
            if self.swallowed:
                raise
            self.swallowed = True
            return []


async def test_stop_ends_the_hub_although_the_cancellation_was_swallowed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine = SwallowingEngine()
    hub = Hub(engine, block=0.2)
    await hub.start()
    async with asyncio.timeout(30):
        await engine.blocking.wait()  # the hub waits in the blocking read
    task = hub._task
    await hub.stop(grace=2.0)
    assert engine.swallowed
    assert task is not None and task.done()
    assert "did not stop" not in caplog.text
