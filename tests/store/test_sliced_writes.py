"""Large puts and clears are done in slices that let other tasks run (issue 20), and no
reader through the store worker ever sees part of one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from eventd import pacing
from eventd.store import bulk
from eventd.store.base import Engine, Query, ReminderQuery
from eventd.store.commands import Clear, Count, PutMany, RunQuery
from eventd.store.memory import MemoryEngine
from eventd.store.worker import StoreWorker
from tests.store.test_conformance import T0, ev
from tests.turns import Turns

SIZE = 5_000


@pytest.fixture(autouse=True)
def every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Yield to the loop after every slice, however fast the machine."""
    monkeypatch.setattr(pacing, "SLICE_SECONDS", 0.0)


@pytest.fixture
async def worker(engine: Engine) -> AsyncIterator[StoreWorker]:
    store = StoreWorker(engine)
    store.engine.open = _opened  # type: ignore[method-assign] # the fixture opened it
    await store.start()
    yield store
    await store.stop(drain_timeout=5.0)


async def _opened() -> None:
    return None


def batch(prefix: str, count: int = SIZE) -> list:  # type: ignore[type-arg]
    # All but the first start after T0, when they are written: they arm reminders too.
    return [
        ev(f"{prefix}{i}", T0 + (i % 2) * 3_600_000_000 + i, type=f"t{i % 3}", key=f"k{i % 7}")
        for i in range(count)
    ]


async def test_a_reader_never_sees_part_of_a_put(worker: StoreWorker) -> None:
    counts: list[int] = []
    putting = asyncio.create_task(worker.call(PutMany(batch("a"))))

    async def read() -> None:
        while not putting.done():
            counts.append(await worker.call(Count(Query())))
            await asyncio.sleep(0)

    await asyncio.gather(putting, read())
    counts.append(await worker.call(Count(Query())))
    assert set(counts) <= {0, SIZE}, sorted(set(counts))
    assert counts[-1] == SIZE
    page = await worker.call(RunQuery(Query(type="t1", key="k3", limit=SIZE)))
    assert len(page.events) == len([i for i in range(SIZE) if i % 3 == 1 and i % 7 == 3])


@pytest.mark.memory
async def test_a_memory_put_yields_and_its_changes_reach_the_feed_at_once() -> None:
    engine = MemoryEngine(history=SIZE * 2)
    await engine.put_many(batch("old", 2 * bulk.ADD_SLICE))  # the indexes are not empty
    head = (await engine.read_changes(0, 0)).head
    heads: list[int] = []
    async with Turns() as turns:
        putting = asyncio.create_task(engine.put_many(batch("a")))
        while not putting.done():
            heads.append((await engine.read_changes(0, 0)).head)
            await asyncio.sleep(0)
        await putting
    assert turns.count >= 20
    assert set(heads) <= {head, head + SIZE}
    assert (await engine.read_changes(0, 0)).head == head + SIZE
    assert await engine.count(Query()) == SIZE + 2 * bulk.ADD_SLICE
    pending = await engine.list_reminders(ReminderQuery(limit=10 * SIZE))
    # Every event but the first of each batch starts after it was written: one reminder each.
    assert len(pending.reminders) == SIZE - 1 + 2 * bulk.ADD_SLICE - 1


@pytest.mark.memory
async def test_a_memory_put_cancelled_midway_is_stored_whole() -> None:
    engine = MemoryEngine(history=SIZE * 2)
    putting = asyncio.create_task(engine.put_many(batch("a")))
    for _ in range(10):
        await asyncio.sleep(0)
    putting.cancel()
    await asyncio.gather(putting, return_exceptions=True)
    # Either nothing was stored (cancelled while checking) or all of it: never a part.
    stored = await engine.count(Query())
    assert stored in (0, SIZE)
    assert (await engine.read_changes(0, SIZE * 2)).head == stored


# mongomock runs in the process and answers without yielding: how a clear paces itself on
# MongoDB is the server's business.
@pytest.mark.parametrize(
    "any_engine",
    [
        pytest.param("memory", marks=pytest.mark.memory, id="memory"),
        pytest.param("redis", marks=pytest.mark.redis, id="redis"),
    ],
    indirect=True,
)
async def test_a_clear_yields_and_leaves_an_empty_working_store(
    worker: StoreWorker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "DROP_SLICE", 64)
    await worker.call(PutMany(batch("a")))
    async with Turns() as turns:
        assert await worker.call(Clear()) == SIZE
    assert turns.count >= 10
    assert await worker.call(Count(Query())) == 0
    assert not (await worker.call(RunQuery(Query(type="t1")))).events
    await worker.call(PutMany(batch("b", 10)))
    page = await worker.call(RunQuery(Query(type="t1", limit=100)))
    assert [event.id for event in page.events] == ["b4", "b1", "b7"]  # in time order
