"""The feed hub stops even when a store client swallows the cancellation of a blocking read."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import redis.asyncio as aioredis

from eventd.feed.hub import DISPATCH_SLICE, Hub
from eventd.feed.replay import Subscription
from eventd.store.base import Change, Engine, StorageError
from eventd.store.memory import MemoryEngine
from tests.feed.test_replay import Recorder
from tests.redis_server import RedisServer
from tests.store.test_conformance import ev
from tests.turns import Turns
from tests.waiting import wait_for


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


async def hub_epoch_becomes(hub: Hub, epoch: str) -> None:
    await wait_for(lambda: hub.epoch == epoch, f"the hub's epoch to become {epoch}")


async def test_the_hub_follows_the_epoch_through_clears_and_gaps() -> None:
    engine = MemoryEngine(history=3)
    hub = Hub(engine, block=0.2)
    await hub.start()
    try:
        assert hub.epoch == await engine.feed_epoch()
        await engine.clear()  # its change carries the new epoch
        await hub_epoch_becomes(hub, await engine.feed_epoch())
        # A clear whose change leaves the history before the hub reads it (no await yields
        # to the hub in between): the hub sees a gap, and reads the epoch again.
        await engine.clear()
        await engine.put_many([ev(str(i)) for i in range(10)])
        await hub_epoch_becomes(hub, await engine.feed_epoch())
    finally:
        await hub.stop()


@pytest.mark.redis
async def test_an_epoch_no_cleared_change_explains_is_a_new_history(
    redis_engine: Engine, redis_server: RedisServer, redis_namespace: str
) -> None:
    """Another daemon began a new epoch after a flush, and writes carried the feed past this
    hub's position before it looked: only the epoch tells."""
    await redis_engine.open()
    hub = Hub(redis_engine, block=0.2)
    await hub.start()
    target = Recorder()
    Subscription(hub, target).start()
    try:
        await redis_engine.put_many([ev(str(i)) for i in range(2)])
        await wait_for(lambda: hub.position == 2, "the hub to follow the feed")
        async with aioredis.Redis.from_url(redis_server.url) as redis:
            await redis.set(f"{{{redis_namespace}}}:epoch", "another")
        await redis_engine.put_many([ev(str(i)) for i in range(2, 5)])
        await wait_for(lambda: hub.ready and hub.epoch == "another", "the hub to take it up")
        assert target.lost_count > 0
        assert hub.position == 5
    finally:
        await hub.stop()
        await redis_engine.close()


class LateEngine(MemoryEngine):
    """A store whose feed does not answer until `answering` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.answering = False

    async def read_changes(self, after: int, limit: int) -> Any:
        if not self.answering:
            raise StorageError("the store is away")
        return await super().read_changes(after, limit)


async def test_a_late_start_resynchronises_the_listeners() -> None:
    """Listeners may have rebuilt from the store before the hub could read the feed's head;
    the writes between are behind that head and never dispatched, so they rebuild again."""
    engine = LateEngine()
    hub = Hub(engine, block=0.2)
    gaps: list[int] = []
    hub.listen(lambda change: None, on_gap=lambda: gaps.append(hub.position))
    await hub.start()
    try:
        assert not hub.ready
        await engine.put_many([ev("written-while-the-hub-waited")])
        engine.answering = True
        await wait_for(lambda: gaps == [1], "the listeners to resynchronise at the head")
    finally:
        await hub.stop()


@pytest.fixture
def engine(memory_or_redis_engine: Engine) -> Engine:
    return memory_or_redis_engine


async def test_a_burst_is_dispatched_in_slices_that_let_other_tasks_run(engine: Engine) -> None:
    await engine.open()
    hub = Hub(engine, block=0.2)
    await hub.start()
    burst = 10 * DISPATCH_SLICE + 5
    try:
        async with Turns() as turns:
            seen: list[int] = []

            def listener(change: Change) -> None:
                turns.mark()
                seen.append(change.position)

            hub.listen(listener)
            head = (await engine.read_changes(0, 1)).head
            await engine.put_many([ev(f"b{n:04}") for n in range(burst)])
            await wait_for(lambda: len(seen) == burst, "the burst to be dispatched")
        assert seen == list(range(head + 1, head + burst + 1))  # every change, in order
        assert turns.longest_run() <= DISPATCH_SLICE
    finally:
        await hub.stop()
        await engine.close()
