"""Requests waiting for the statistics to hold their writes are woken without a scan of all."""

from __future__ import annotations

import asyncio

from eventd.feed.hub import Hub
from eventd.stats.service import StatsService
from eventd.store.commands import PutMany
from eventd.store.memory import MemoryEngine
from eventd.store.worker import StoreWorker
from tests.conftest import FakeClock
from tests.store.test_conformance import ev

CHANGES = WAITERS = 200


class CountingHub(Hub):
    """A hub that counts how often its position is read."""

    reads = 0

    @property  # type: ignore[override]
    def position(self) -> int:
        self.reads += 1
        return self._at

    @position.setter
    def position(self, value: int) -> None:
        self._at = value


async def test_a_change_does_not_look_at_every_waiting_request(clock: FakeClock) -> None:
    engine = MemoryEngine()
    worker = StoreWorker(engine)
    await worker.start()
    hub = CountingHub(engine)  # not tailing: the test hands it the changes
    service = StatsService(worker, hub, clock, (300,))
    await service.start()
    for n in range(CHANGES):
        await worker.call(PutMany([ev(f"e{n}")]))
    waiting = [asyncio.create_task(service.caught_up()) for _ in range(WAITERS)]
    await asyncio.sleep(0)  # every request is waiting for the last write's position
    assert len(service._waiters) == WAITERS  # none was answered at once
    changes = (await engine.read_changes(0, CHANGES)).changes
    hub.reads = 0
    for change in changes:
        hub.dispatch([change])
    assert all(await asyncio.gather(*waiting))
    # About one look per change (and per request woken), not one per request per change.
    assert hub.reads < 10 * (CHANGES + WAITERS), hub.reads
    await service.stop()
    await worker.stop(drain_timeout=1)


async def test_requests_that_stop_waiting_leave_nothing_behind(clock: FakeClock) -> None:
    """Timed-out and cancelled requests are counted, so their entries are dropped in time
    and a later wake-up does not count them below zero."""
    engine = MemoryEngine()
    worker = StoreWorker(engine)
    await worker.start()
    hub = Hub(engine)  # not tailing: the windows never reach the writes below
    service = StatsService(worker, hub, clock, (300,), catch_up_timeout=0.01)
    await service.start()
    await worker.call(PutMany([ev("e0")]))
    assert not any(await asyncio.gather(*(service.caught_up() for _ in range(WAITERS))))
    cancelled = [asyncio.create_task(service.caught_up()) for _ in range(WAITERS)]
    await asyncio.sleep(0)  # every request is waiting
    for task in cancelled:
        task.cancel()
    await asyncio.gather(*cancelled, return_exceptions=True)
    assert len(service._waiters) <= WAITERS  # pruned as they went, not 2 * WAITERS
    assert service._abandoned >= 0
    hub.dispatch((await engine.read_changes(0, 10)).changes)  # the position is reached
    assert service._waiters == []
    assert service._abandoned >= 0, service._abandoned
    assert await service.caught_up()
    await service.stop()
    await worker.stop(drain_timeout=1)
