"""The store worker: batching, ordering, backpressure, failures and a draining stop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from eventd.errors import Unavailable
from eventd.model import Event
from eventd.store.base import IdConflict, PutResult, Query, ReportsRoundTrips, StorageError
from eventd.store.commands import Count, Delete, Get, PutMany, RunQuery, Update
from eventd.store.memory import MemoryEngine
from eventd.store.worker import StoreWorker
from tests.store.test_conformance import ev


class GatedEngine(MemoryEngine):
    """A memory engine that records its put calls and can be held shut or made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.put_calls: list[int] = []
        self.started = 0  # put calls begun, held at the gate or not
        self.fail_with: Exception | None = None

    async def put_many(self, events: Sequence[Event]) -> list[PutResult]:
        self.started += 1
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


class RoundTrips(GatedEngine):
    """A gated engine with a timeout whose puts are several round trips of `step` seconds."""

    def __init__(self, timeout: float, rounds: int, step: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.rounds = rounds
        self.step = step

    async def put_many(self, events: Sequence[Event]) -> list[PutResult]:
        for _ in range(self.rounds):
            await asyncio.sleep(self.step)  # a round trip to a store that answers
            self.round_trip()
        return await super().put_many(events)


async def test_a_long_call_that_keeps_answering_is_waited_for() -> None:
    # Each round trip answers within the timeout; the call as a whole takes several.
    engine = RoundTrips(timeout=1.0, rounds=30, step=0.05)
    worker = await started(engine)
    put = asyncio.create_task(worker.call(PutMany([ev("a")])))
    await asyncio.sleep(0)
    behind = [asyncio.create_task(worker.call(Get("a"))) for _ in range(3)]
    assert (await put)[0].created
    assert all(got is not None for got in await asyncio.gather(*behind))
    await worker.stop(drain_timeout=1)


async def test_commands_behind_an_unanswered_call_fail_at_once_and_are_never_applied() -> None:
    engine = GatedEngine()
    engine.timeout = 0.1
    worker = await started(engine)
    engine.gate.clear()  # the store hangs
    first = asyncio.create_task(worker.call(PutMany([ev("a")])))
    await asyncio.sleep(0)
    waiting = [asyncio.create_task(worker.call(PutMany([ev(f"b{i}")]))) for i in range(3)]
    waiting.append(asyncio.create_task(worker.call(Get("a"))))
    gone = asyncio.create_task(worker.call(PutMany([ev("gone")])))
    await asyncio.sleep(0)
    gone.cancel()  # a caller that has gone: its write is dropped with the others
    outcomes = await asyncio.gather(first, *waiting, return_exceptions=True)
    assert all(isinstance(outcome, StorageError) for outcome in outcomes), outcomes
    # Only the first call reached the store: the others were not tried one after another.
    assert engine.started == 1
    engine.gate.set()  # the store answers again
    assert await worker.call(Count(Query())) == 0  # nothing was applied after the 503s
    assert engine.started == 1
    await worker.stop(drain_timeout=1)


class SlowConflict(GatedEngine, ReportsRoundTrips):
    """A gated engine with a timeout whose first put takes `delay` seconds to answer; it
    reports round trips: one timeout for the folded put, whatever its size."""

    def __init__(self, timeout: float, delay: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.delays = [delay]

    async def put_many(self, events: Sequence[Event]) -> list[PutResult]:
        if self.delays:
            await asyncio.sleep(self.delays.pop())
        return await super().put_many(events)


async def test_a_write_answered_503_is_never_applied_afterwards() -> None:
    # A folded put that answers late with a conflict: a caller told 503 meanwhile must not
    # find its write applied by the one-by-one retry of the group.
    engine = SlowConflict(timeout=0.1, delay=0.15)
    await engine.put_many([ev("x", value=1.0)])
    worker = await started(engine)
    engine.delays = [0.15]
    engine.gate.clear()
    blocker = asyncio.create_task(worker.call(Get("x")))
    await asyncio.sleep(0)
    good = asyncio.create_task(worker.call(PutMany([ev(f"g{i}") for i in range(600)])))
    bad = asyncio.create_task(
        worker.call(PutMany([ev("x", value=2.0), *[ev(f"h{i}") for i in range(599)]]))
    )
    await asyncio.sleep(0)
    engine.gate.set()
    await blocker
    outcome = (await asyncio.gather(good, return_exceptions=True))[0]
    await asyncio.gather(bad, return_exceptions=True)
    stored = await worker.call(Get("g0"))
    if isinstance(outcome, StorageError):
        assert stored is None, "a write answered 503 was applied afterwards"
    else:
        assert stored is not None
    await worker.stop(drain_timeout=1)


async def test_a_cancelled_read_is_skipped(engine: GatedEngine) -> None:
    worker = await started(engine)
    engine.gate.clear()
    first = asyncio.create_task(worker.call(PutMany([ev("a")])))
    await asyncio.sleep(0)
    reads = 0
    original = engine.get

    async def counted(id: str) -> Event | None:
        nonlocal reads
        reads += 1
        return await original(id)

    engine.get = counted  # type: ignore[method-assign]
    doomed = asyncio.create_task(worker.call(Get("a")))
    await asyncio.sleep(0)
    doomed.cancel()
    engine.gate.set()
    await first
    assert await worker.call(Get("a")) is not None
    assert reads == 1  # only the read whose caller waited
    await worker.stop(drain_timeout=1)


class OwnTimeout(GatedEngine):
    """A gated engine whose client ends a hung put with its own timeout error, swallowing
    the worker's cancellation (as a socket timeout can come first)."""

    async def put_many(self, events: Sequence[Event]) -> list[PutResult]:
        self.started += 1
        try:
            await self.gate.wait()
        except asyncio.CancelledError:
            raise StorageError("timeout reading from the socket") from None
        return await MemoryEngine.put_many(self, events)


async def test_the_backends_own_timeout_also_fails_the_commands_behind() -> None:
    engine = OwnTimeout()
    engine.timeout = 0.1
    worker = await started(engine)
    engine.gate.clear()
    first = asyncio.create_task(worker.call(PutMany([ev("a")])))
    await asyncio.sleep(0)
    behind = [asyncio.create_task(worker.call(PutMany([ev(f"b{i}")]))) for i in range(3)]
    outcomes = await asyncio.gather(first, *behind, return_exceptions=True)
    assert all(isinstance(outcome, StorageError) for outcome in outcomes), outcomes
    assert engine.started == 1
    engine.gate.set()
    assert await worker.call(Count(Query())) == 0
    await worker.stop(drain_timeout=1)


class UnreportedBatches(GatedEngine):
    """A gated engine with a timeout whose puts take `delay` seconds without reporting a
    round trip, as a driver that splits a large write into batches of its own."""

    def __init__(self, timeout: float, delay: float) -> None:
        super().__init__()
        self.timeout = timeout
        self.delay = delay

    async def put_many(self, events: Sequence[Event]) -> list[PutResult]:
        await asyncio.sleep(self.delay)
        return await super().put_many(events)


class ReportedBatches(UnreportedBatches, ReportsRoundTrips):
    """The same engine, claiming to report every round trip of a put."""


async def test_a_large_put_to_an_engine_that_does_not_report_round_trips_has_time() -> None:
    # 5,000 events: five more timeouts than a single round trip's one.
    engine = UnreportedBatches(timeout=0.2, delay=0.3)
    worker = await started(engine)
    results = await worker.call(PutMany([ev(f"e{i}") for i in range(5000)]))
    assert all(result.created for result in results)
    await worker.stop(drain_timeout=1)


async def test_an_engine_that_reports_round_trips_gets_no_allowance_by_size() -> None:
    engine = ReportedBatches(timeout=0.2, delay=0.3)
    worker = await started(engine)
    with pytest.raises(StorageError):
        await worker.call(PutMany([ev(f"e{i}") for i in range(5000)]))
    await worker.stop(drain_timeout=1)
