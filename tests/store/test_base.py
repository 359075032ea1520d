"""The engine contract's optional capabilities."""

from __future__ import annotations

import pytest

from eventd.store.base import Engine, Pings, ReportsRoundTrips, Unsupported, require
from eventd.store.memory import MemoryEngine
from eventd.store.worker import StoreWorker

CAPABILITIES = {"memory": set(), "redis": {Pings, ReportsRoundTrips}, "mongo": {Pings}}


def test_each_engine_has_the_capabilities_it_supports(any_engine: Engine) -> None:
    has = {c for c in (Pings, ReportsRoundTrips) if isinstance(any_engine, c)}
    assert has == CAPABILITIES[any_engine.name]


class PingedMemory(MemoryEngine, Pings):
    async def ping(self) -> None:
        pass


def test_require_returns_an_engine_that_has_the_capability() -> None:
    engine = PingedMemory()
    assert require(engine, Pings) is engine


def test_require_names_the_engine_and_what_it_cannot_do() -> None:
    with pytest.raises(Unsupported, match=r"^the memory engine cannot be pinged$"):
        require(MemoryEngine(), Pings)


async def test_a_store_in_the_process_answers_a_ping_without_one() -> None:
    worker = StoreWorker(MemoryEngine())
    await worker.start()
    await worker.ping()
    await worker.stop(drain_timeout=1)
