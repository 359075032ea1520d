"""What the store, the statistics and the timelines keep for each event is not tracked by the
garbage collector, and `serve` freezes start-up's objects once the garbage is collected."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterable
from typing import Any

import pytest

from eventd import cli, heap
from eventd.keys import WORKER
from eventd.stats.keys import STATS
from eventd.store.memory import MemoryEngine
from eventd.timelines.keys import TRANSITIONS
from eventd.times import US
from tests.conftest import NOW, MakeClient


def events(count: int, first: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "id": f"e{i}",
            "timestamp": (NOW - (count - i) * US) / US,
            "type": f"t{i % 3}",
            "key": f"k{i % 4}",
            "value": i / 7,
            "data": {"status": ["open", "wait", "done"][i % 3]},
        }
        for i in range(first, first + count)
    ]


def tracked(objects: Iterable[Any]) -> list[Any]:
    """Return those of `objects` that the collector tracks; refuse an empty lot."""
    objects = list(objects)
    assert objects, "nothing to check"
    return [found for found in objects if gc.is_tracked(found)]


async def test_what_each_stored_event_leaves_is_untracked(make_client: MakeClient) -> None:
    client = await make_client()
    app = client.app
    response = await client.post("/events", json=events(50))  # a batch: the bulk path
    assert response.status == 201, await response.text()
    for event in events(5, first=50):  # one at a time: the single path
        response = await client.post("/events", json=event)
        assert response.status == 201, await response.text()
    assert await app[STATS].caught_up()
    assert await app[TRANSITIONS].caught_up()
    # A tuple of untracked items is untracked by the first collection that sees it.
    gc.collect()

    engine = app[WORKER].engine
    assert isinstance(engine, MemoryEngine)
    assert tracked(engine._by_id.values()) == []
    assert tracked(engine._at.values()) == []
    assert tracked(engine._feed) == []

    rolling = app[STATS].rolling
    assert tracked(rolling.points.values()) == []
    assert tracked(rolling.all.buckets.values()) == []
    assert tracked(b for s in rolling.by_type.values() for b in s.buckets.values()) == []

    (index,) = app[TRANSITIONS].indexes.values()
    assert tracked(index.by_event.values()) == []
    assert tracked(p for line in index.lines.values() for p in line.points) == []
    assert tracked(index.transitions.values()) == []


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def test_freeze_startup_collects_cycles_before_freezing() -> None:
    gc.disable()  # no automatic collection may free the cycle instead
    try:
        first, second = Node(), Node()
        first.other, second.other = second, first
        gone = weakref.ref(first)
        del first, second
        assert heap.freeze_startup() >= 1
        assert gone() is None
    finally:
        gc.unfreeze()
        gc.enable()


def test_serve_freezes_once_started_before_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(cli, "freeze_startup", lambda: calls.append("freeze") or 0)
    cli._started(calls.append)("serving")
    assert calls == ["freeze", "serving"]
