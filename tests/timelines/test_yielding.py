"""Transitions answers and ticks let other tasks run while they read many transitions, and
answer as the one-go computation does (indexed field, and a scan on memory and redis)."""

from __future__ import annotations

import random
from typing import Any

import msgspec
import msgspec.structs
import pytest
from aiohttp.test_utils import TestClient

from eventd import ranks
from eventd.fields import parse_path
from eventd.keys import WORKER
from eventd.model import Event
from eventd.store.base import Engine
from eventd.store.commands import PutMany
from eventd.timelines import answers, points
from eventd.timelines.channel import TransitionsSubscription
from eventd.timelines.keys import TRANSITIONS
from eventd.timelines.points import Transition, Window, summarize, transitions_of
from eventd.timelines.service import keys_scanned, lines_scanned, transitions
from eventd.times import MIN_US, US
from tests.conftest import NOW, MakeClient
from tests.turns import Turns
from tests.waiting import wait_for

Client = TestClient[Any, Any]
COUNT = 2000
SLICE = 50  # small, so that these events make many slices
WINDOW = Window(NOW - 3600 * US, NOW)


@pytest.fixture
def engine(memory_or_redis_engine: Engine) -> Engine:
    return memory_or_redis_engine


def events(count: int) -> list[Event]:
    """Return `count` events of the last hour on five keys, whose status changes often."""
    rng = random.Random(20)
    made = []
    for n in range(count):
        data = {"status": rng.choice(["start", "wait", "done"]), "host": rng.choice("ab")}
        made.append(
            Event(
                id=f"e{n:05}",
                ts=NOW - rng.randrange(3600 * US),
                seq=-1,
                type="job",
                key=f"k{n % 5}",
                title=None,
                description=None,
                value=None,
                data=msgspec.Raw(msgspec.json.encode(data)),
                remind=None,
                created=NOW,
                updated=NOW,
            )
        )
    return made


async def filled(make_client: MakeClient, engine: Engine | None) -> Client:
    client = await make_client(engine=engine)
    await client.app[WORKER].call(PutMany(events(COUNT)))
    service = client.app[TRANSITIONS]
    head = (await service.hub.engine.read_changes(0, 1)).head
    await wait_for(lambda: service.hub.position >= head, "the feed to reach the index")
    return client


async def test_an_indexed_fields_transitions_let_other_tasks_run(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(answers, "SLICE", SLICE)
    client = await filled(make_client, None)
    service = client.app[TRANSITIONS]
    path = parse_path("status")
    index = service.index(path)
    assert index is not None
    read = len(list(index.window(WINDOW)))
    async with Turns() as turns:
        got = await transitions(service, path, WINDOW)
        during = turns.count
    assert got == summarize(index.window(WINDOW))
    assert read > 10 * SLICE
    assert during >= read // SLICE


async def test_a_scanned_fields_transitions_let_other_tasks_run(
    make_client: MakeClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(answers, "SLICE", SLICE)
    client = await filled(make_client, engine)
    service = client.app[TRANSITIONS]
    path = parse_path("host")  # not indexed: read from the store
    assert service.index(path) is None
    lines = [line async for line in lines_scanned(service.worker, path, WINDOW.end)]
    async with Turns() as turns:
        got = await transitions(service, path, WINDOW)
        during = turns.count
    assert got == transitions_of(lines, WINDOW) != []
    assert during >= COUNT // SLICE


async def test_a_tick_lets_other_tasks_run_and_pushes_the_same_pairs(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(answers, "SLICE", SLICE)
    client = await filled(make_client, None)
    service = client.app[TRANSITIONS]
    path = parse_path("status")
    sent: list[dict[str, Any]] = []
    follower = TransitionsSubscription("t", sent.append, service, path, 3600, (None, None))
    service.listeners.add(follower)
    async with Turns() as turns:
        await service.tick()
        during = turns.count
    (message,) = sent
    index = service.index(path)
    assert index is not None
    window = Window(max(MIN_US, NOW - 3600 * US), NOW)
    assert message["transitions"] == summarize(index.window(window))
    assert during >= len(list(index.window(window))) // SLICE


async def test_scanned_keys_are_the_first_ones_however_many_the_store_holds(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(answers, "SLICE", 10)  # the kept keys are cut down many times
    client = await make_client()
    made = [msgspec.structs.replace(e, key=f"k{n % 400:03}") for n, e in enumerate(events(COUNT))]
    await client.app[WORKER].call(PutMany(made))
    worker, path = client.app[WORKER], parse_path("host")
    assert await keys_scanned(worker, path, None, 3) == (["k000", "k001", "k002"], True)
    assert await keys_scanned(worker, path, "k396", 3) == (["k397", "k398", "k399"], False)
    every, more = await keys_scanned(worker, path, None, 1000)
    assert every == [f"k{n:03}" for n in range(400)] and not more


async def test_pairs_of_many_dwells_are_those_of_one_sort(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(answers, "SLICE", 10)
    monkeypatch.setattr(ranks, "RUN", 8)  # many runs, merged at several levels
    monkeypatch.setattr(ranks, "MAX_RUN", 32)
    rng = random.Random(5)
    made = [
        Transition(
            "k", rng.choice(['"a"', '"b"']), '"c"', rng.choice([1, 7, rng.randrange(99)]), "t"
        )
        for _ in range(1000)
    ]
    async with Turns() as turns:
        got = await answers.pairs(list(made))
        during = turns.count
    assert got == points.pairs(made)
    assert during >= len(made) // 10
