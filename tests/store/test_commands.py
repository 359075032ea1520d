"""Store commands run themselves: a new one needs no change to the worker loop."""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from eventd.store.base import Capability, Engine, Query, Unsupported, require
from eventd.store.commands import (
    Clear,
    Command,
    Count,
    CursorSecret,
    Delete,
    Get,
    PutMany,
    RunQuery,
    Update,
)
from eventd.store.memory import MemoryEngine
from eventd.store.worker import StoreWorker
from tests.store.test_conformance import ev


@dataclass(slots=True, frozen=True)
class CountOfType(Command[int]):
    """A store operation the worker has never heard of."""

    type: str
    reads = True

    async def run(self, engine: Engine) -> int:
        return await engine.count(Query(type=self.type))


class Stamps(Capability):
    """A capability that only some engines have."""

    ability = "stamp"

    @abstractmethod
    def stamp(self) -> str:
        """Return the engine's stamp."""


class StampingMemory(MemoryEngine, Stamps):
    def stamp(self) -> str:
        return "stamped"


@dataclass(slots=True, frozen=True)
class Stamp(Command[str]):
    """A command that needs the `Stamps` capability."""

    async def run(self, engine: Engine) -> str:
        return require(engine, Stamps).stamp()


@pytest.fixture
async def worker() -> AsyncIterator[StoreWorker]:
    worker = StoreWorker(MemoryEngine())
    await worker.start()
    yield worker
    await worker.stop(drain_timeout=1)


async def test_a_new_command_runs_through_the_worker(worker: StoreWorker) -> None:
    await worker.call(PutMany([ev("a", type="deploy"), ev("b", type="alert")]))
    assert await worker.call(CountOfType("deploy")) == 1


async def test_a_new_command_keeps_its_place_behind_the_writes_queued_before_it(
    worker: StoreWorker,
) -> None:
    puts = [asyncio.create_task(worker.call(PutMany([ev(f"e{i}", type="t")]))) for i in range(5)]
    await asyncio.sleep(0)  # the puts are queued
    assert await worker.call(CountOfType("t")) == 5
    await asyncio.gather(*puts)


async def test_a_command_refuses_an_engine_without_its_capability(worker: StoreWorker) -> None:
    with pytest.raises(Unsupported, match="the memory engine cannot stamp"):
        await worker.call(Stamp())
    assert await worker.call(Count(Query())) == 0  # the worker goes on


async def test_a_command_runs_on_an_engine_with_its_capability() -> None:
    worker = StoreWorker(StampingMemory())
    await worker.start()
    assert await worker.call(Stamp()) == "stamped"
    await worker.stop(drain_timeout=1)


def test_the_commands_that_only_read_say_so() -> None:
    reads = {Get, RunQuery, Count, CursorSecret}
    for command in (PutMany, Get, Update, Delete, RunQuery, Count, Clear, CursorSecret):
        assert command.reads == (command in reads), command


async def test_a_put_counts_its_events_for_the_allowance_by_size() -> None:
    assert PutMany([ev("a"), ev("b")]).size == 2
    assert Get("a").size == 0
