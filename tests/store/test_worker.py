"""The store worker: batching, ordering, backpressure, failures and a draining stop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from eventd.errors import Unavailable
from eventd.model import Event
from eventd.store.base import IdConflict, PutResult, Query, StorageError
from eventd.store.memory import MemoryEngine
from eventd.store.worker import Delete, Get, PutMany, RunQuery, StoreWorker, Update
from tests.store.test_conformance import ev


class GatedEngine(MemoryEngine):
    """A memory engine that records its put calls and can be held shut or made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.put_calls: list[int] = []
        self.fail_with: Exception | None = None

    async def put_many(self, events: Sequence[Event]) -> list[PutResult]:
        await self.gate.wait()
        self.put_calls.append(len(events))
        if self.fail_with is not None:
            raise self.fail_with
        return await super().put_many(events)


@pytest.fixture
async def engine() -> GatedEngine:
    return GatedEngine()


async def started(engine: GatedEngine, **options: float) -> StoreWorker:
    worker = StoreWorker(engine, **options)  # type: ignore[arg-type]
    await worker.start()
    return worker


async def test_waiting_puts_fold_into_one_engine_call(engine: GatedEngine) -> None:
    worker = await started(engine)
    engine.gate.clear()
    blocker = asyncio.create_task(worker.call(PutMany([ev("first")])))
    await asyncio.sleep(0)
    calls = [
        asyncio.create_task(worker.call(PutMany([ev(f"e{i}"), ev(f"f{i}")]))) for i in range(5)
    ]
    await asyncio.sleep(0)
    engine.gate.set()
    results = await asyncio.gather(blocker, *calls)
    assert engine.put_calls == [1, 10]
    assert [r.event.id for r in results[3]] == ["e2", "f2"]
    await worker.stop(drain_timeout=1)


async def test_a_read_never_overtakes_an_earlier_write(engine: GatedEngine) -> None:
    worker = await started(engine)
    engine.gate.clear()
    put = asyncio.create_task(worker.call(PutMany([ev("a")])))
    get = asyncio.create_task(worker.call(Get("a")))
    update = asyncio.create_task(worker.call(Update("a", {"value": 2.0}, 0)))
    read_again = asyncio.create_task(worker.call(RunQuery(Query())))
    await asyncio.sleep(0)
    engine.gate.set()
    await put
    assert (await get) is not None
    assert (await update).value == 2.0  # type: ignore[union-attr]
    assert [e.value for e in (await read_again).events] == [2.0]
    await worker.stop(drain_timeout=1)


async def test_conflict_fails_only_its_own_command(engine: GatedEngine) -> None:
    worker = await started(engine)
    await worker.call(PutMany([ev("x", value=1.0)]))
    engine.gate.clear()
    good = asyncio.create_task(worker.call(PutMany([ev("good")])))
    bad = asyncio.create_task(worker.call(PutMany([ev("x", value=2.0)])))
    await asyncio.sleep(0)
    engine.gate.set()
    assert (await good)[0].created
    with pytest.raises(IdConflict):
        await bad
    await worker.stop(drain_timeout=1)


async def test_engine_errors_fail_the_callers_not_the_worker(engine: GatedEngine) -> None:
    worker = await started(engine)
    engine.fail_with = StorageError("disk on fire")
    with pytest.raises(StorageError):
        await worker.call(PutMany([ev("a")]))
    engine.fail_with = None
    assert (await worker.call(PutMany([ev("a")])))[0].created
    await worker.stop(drain_timeout=1)


async def test_full_queue_past_the_deadline_is_unavailable(engine: GatedEngine) -> None:
    worker = await started(engine, queue_size=1, enqueue_timeout=0.05, retry_after=3)
    engine.gate.clear()
    first = asyncio.create_task(worker.call(PutMany([ev("a")])))  # taken by the worker
    await asyncio.sleep(0)
    second = asyncio.create_task(worker.call(PutMany([ev("b")])))  # fills the queue
    await asyncio.sleep(0)
    with pytest.raises(Unavailable) as raised:
        await worker.call(Get("a"))
    assert raised.value.retry_after == 3
    assert worker.backlog == 1
    engine.gate.set()
    await asyncio.gather(first, second)
    await worker.stop(drain_timeout=1)


async def test_stop_drains_what_was_queued(engine: GatedEngine) -> None:
    worker = await started(engine)
    engine.gate.clear()
    calls = [asyncio.create_task(worker.call(PutMany([ev(str(i))]))) for i in range(20)]
    await asyncio.sleep(0)
    stopping = asyncio.create_task(worker.stop(drain_timeout=5))
    await asyncio.sleep(0)
    with pytest.raises(Unavailable):
        await worker.call(Get("0"))  # intake is closed while draining
    engine.gate.set()
    await stopping
    assert all(result[0].created for result in await asyncio.gather(*calls))
    assert await engine.count(Query()) == 20


async def test_stop_past_its_deadline_fails_the_rest(engine: GatedEngine) -> None:
    worker = await started(engine)
    engine.gate.clear()
    calls = [asyncio.create_task(worker.call(PutMany([ev(str(i))]))) for i in range(3)]
    await asyncio.sleep(0)
    await worker.stop(drain_timeout=0.05)
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(outcome, Unavailable) for outcome in outcomes)


async def test_a_cancelled_caller_does_not_break_the_worker(engine: GatedEngine) -> None:
    worker = await started(engine)
    engine.gate.clear()
    doomed = asyncio.create_task(worker.call(PutMany([ev("a")])))
    await asyncio.sleep(0)
    doomed.cancel()
    engine.gate.set()
    with pytest.raises(asyncio.CancelledError):
        await doomed
    assert await worker.call(Delete("a")) is not None  # the write itself was applied
    await worker.stop(drain_timeout=1)
