"""A projection rebuilds from the store, holds the feed meanwhile, rebuilds again on a gap,
waits out a store that is away, and lets read-your-writes requests wait for it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import pytest

from eventd.feed.hub import Hub
from eventd.feed.projection import DROP_SLICE, SLICE, Projection
from eventd.model import Event
from eventd.store.base import Change, Page, Query, StorageError
from eventd.store.memory import MemoryEngine
from eventd.store.worker import SCAN_PAGE, PutMany, StoreWorker
from tests.store.test_conformance import ev
from tests.turns import Turns
from tests.waiting import TIMEOUT, wait_for


class PausingEngine(MemoryEngine):
    """Pauses a query after it has read its page, until let go; fails queries on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.pause = False  # the next query pauses
        self.paused = asyncio.Event()
        self.resume = asyncio.Event()
        self.failures = 0  # queries still to fail

    async def query(self, query: Query) -> Page:
        if self.failures:
            self.failures -= 1
            raise StorageError("the store is away")
        page = await super().query(query)
        if self.pause:
            self.pause = False
            self.paused.set()
            await self.resume.wait()
        return page


class Latest(Projection):
    """The value of every stored event by id; counts its rebuilds and the changes applied."""

    name = "latest"
    kept = "values"
    retry_first = 0.001  # the store comes back at once in these tests

    def __init__(self, worker: StoreWorker, hub: Hub, catch_up_timeout: float = TIMEOUT) -> None:
        super().__init__(worker, hub, catch_up_timeout=catch_up_timeout)
        self.values: dict[str, float | None] = {}
        self.rebuilds = 0
        self.applied: list[int] = []
        self.turns: Turns | None = None  # marks each event and change taken in, if set

    def reset(self) -> None:
        self.values = {}
        self.rebuilds += 1

    def query(self) -> Query:
        return Query()

    def load_event(self, event: Event) -> None:
        if self.turns is not None:
            self.turns.mark()
        self.values[event.id] = event.value

    def apply(self, change: Change) -> None:
        if self.turns is not None:
            self.turns.mark()
        self.applied.append(change.position)
        if change.op == "cleared":
            self.values = {}
        elif change.event is not None and change.op == "deleted":
            self.values.pop(change.event.id, None)
        elif change.event is not None:
            self.values[change.event.id] = change.event.value


class Store:
    """A memory engine behind a store worker, and a hub the test hands the changes to."""

    def __init__(self) -> None:
        self.engine = PausingEngine()
        self.worker = StoreWorker(self.engine)
        self.hub = Hub(self.engine)  # not tailing: `feed` dispatches
        self.projections: list[Latest] = []

    def projection(self, **options: float) -> Latest:
        projection = Latest(self.worker, self.hub, **options)
        self.projections.append(projection)
        return projection

    async def put(self, id: str, value: float) -> None:
        """Store an event straight into the engine (the worker may be busy with a read)."""
        await self.engine.put_many([ev(id, value=value)])

    async def feed(self, *, skip: int = 0) -> None:
        """Dispatch the changes the hub has not seen, losing the first `skip` of them."""
        changes = (await self.engine.read_changes(self.hub.position, 1000)).changes
        self.hub.dispatch(changes[skip:])

    async def paused(self) -> None:
        async with asyncio.timeout(TIMEOUT):
            await self.engine.paused.wait()
        self.engine.paused.clear()


@pytest.fixture
async def store() -> AsyncIterator[Store]:
    store = Store()
    await store.worker.start()
    yield store
    store.engine.resume.set()
    for projection in store.projections:
        await projection.stop()
    await store.worker.stop(drain_timeout=1)


async def start_reading(store: Store) -> tuple[Latest, asyncio.Task[None]]:
    """Store e1, then start a projection whose first rebuild pauses once it has read e1."""
    await store.put("e1", 1.0)
    await store.feed()
    projection = store.projection()
    store.engine.pause = True
    starting = asyncio.create_task(projection.start())
    await store.paused()
    return projection, starting


async def test_changes_during_a_rebuild_are_held_and_applied_once_after_it(store: Store) -> None:
    projection, starting = await start_reading(store)  # e1 read, not taken in yet
    await store.put("e2", 2.0)
    await store.engine.delete("e1")
    await store.feed()  # changes 2 and 3 come while the rebuild reads
    assert projection.applied == [] and not projection.settled
    store.engine.resume.set()
    await starting
    assert projection.values == {"e2": 2.0}  # the rebuild read e1; the held delete removed it
    assert projection.applied == [2, 3]
    assert projection.settled and await projection.caught_up()


async def test_a_gap_during_the_first_rebuild_rebuilds_again(store: Store) -> None:
    projection, starting = await start_reading(store)
    await store.put("e2", 2.0)
    await store.put("e3", 3.0)
    await store.feed(skip=1)  # change 2 is lost to the hub: its read may have missed it
    store.engine.resume.set()
    await starting
    await wait_for(lambda: projection.settled, "the rebuild after the gap")
    assert projection.rebuilds == 2
    assert projection.values == {"e1": 1.0, "e2": 2.0, "e3": 3.0}


async def test_a_gap_during_a_rebuild_after_a_gap_rebuilds_again(store: Store) -> None:
    projection = store.projection()
    await projection.start()
    await store.put("e1", 1.0)
    await store.put("e2", 2.0)
    store.engine.pause = True
    await store.feed(skip=1)  # change 1 is lost to the hub: a gap
    await store.paused()  # the rebuild the gap started reads
    await store.put("e3", 3.0)
    await store.put("e4", 4.0)
    waiting = asyncio.create_task(projection.caught_up())
    await store.feed(skip=1)  # change 3 is lost too, while that rebuild reads
    store.engine.resume.set()
    assert await waiting  # answered once the state is whole again
    assert projection.settled and projection.rebuilds == 3
    assert projection.values == {"e1": 1.0, "e2": 2.0, "e3": 3.0, "e4": 4.0}


async def test_a_store_that_fails_is_read_again_until_it_answers(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=__name__)
    await store.put("e1", 1.0)
    await store.feed()
    store.engine.failures = 3
    projection = store.projection()
    await projection.start()  # the read failed: the rebuild goes on in the background
    await wait_for(lambda: projection.settled, "the rebuild once the store answers")
    assert store.engine.failures == 0 and projection.rebuilds == 4
    assert projection.values == {"e1": 1.0}
    assert await projection.caught_up()
    warnings = [
        r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name == __name__
    ]
    assert warnings == [
        "latest: cannot read the store yet (the store is away); will rebuild when it answers"
    ]
    assert "latest: rebuild failed (the store is away); retrying in 0.0 s" in caplog.text
    assert caplog.records[-1].getMessage() == "latest: values rebuilt from 1 events"


async def test_caught_up_waits_for_the_feed_to_bring_the_write(store: Store) -> None:
    projection = store.projection()
    await projection.start()
    await store.worker.call(PutMany([ev("e1", value=1.0)]))  # acknowledged, not yet fed
    waiting = asyncio.create_task(projection.caught_up())
    await wait_for(lambda: len(projection._waiters) == 1, "the request to wait")
    await store.feed()
    assert await waiting
    assert projection.values == {"e1": 1.0}


async def test_caught_up_tells_when_the_feed_does_not_come_in_time(store: Store) -> None:
    projection = store.projection(catch_up_timeout=0.01)
    await projection.start()
    await store.worker.call(PutMany([ev("e1", value=1.0)]))
    assert not await projection.caught_up()  # nothing feeds the hub
    assert projection._waiters == []  # the request that gave up is forgotten
    await store.feed()
    assert await projection.caught_up()


async def test_a_long_rebuild_lets_other_tasks_run_and_builds_the_same_state(
    store: Store,
) -> None:
    events = [ev(f"e{n:05}", value=float(n)) for n in range(3 * SCAN_PAGE)]
    await store.engine.put_many(events)
    await store.feed()
    projection = store.projection()
    async with Turns() as turns:
        projection.turns = turns
        await projection.start()
    assert projection.values == {e.id: e.value for e in events}
    assert len(turns.marks) == len(events)
    # A store page is SCAN_PAGE events: without slices, each page is taken in at once.
    assert turns.longest_run() <= SLICE < SCAN_PAGE


async def test_changes_held_by_a_rebuild_are_applied_in_slices_in_order(store: Store) -> None:
    projection, starting = await start_reading(store)  # e1 read, not taken in yet
    held = 4 * SLICE + 3  # fed in one read of the feed
    for n in range(held):
        await store.put(f"h{n}", float(n))
    await store.feed()  # every change comes while the rebuild reads
    store.engine.resume.set()
    async with Turns() as turns:
        projection.turns = turns
        await starting
    assert projection.applied == list(range(2, held + 2))
    assert projection.values == {"e1": 1.0} | {f"h{n}": float(n) for n in range(held)}
    assert turns.longest_run() <= SLICE + 1  # the last slice is applied with the rest


class Marked(dict[str, float]):
    """A dict that notes another task's turns each time an entry is freed."""

    turns: Turns

    def popitem(self) -> tuple[str, float]:
        self.turns.mark()
        return super().popitem()


async def test_old_state_is_freed_a_slice_per_turn(store: Store) -> None:
    projection = store.projection()
    old = Marked({f"e{n}": float(n) for n in range(3 * DROP_SLICE + 1)})
    async with Turns() as turns:
        old.turns = turns
        projection.discard(old, {})  # an empty one is left alone
        await wait_for(lambda: not old, "the old state to be freed")
    assert len(turns.marks) == 3 * DROP_SLICE + 1
    assert turns.longest_run() <= DROP_SLICE
