"""The statistics' long steps let other tasks run, and answer as before, on memory and redis."""

from __future__ import annotations

import random
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient

from eventd import ranks as ranges
from eventd.feed.projection import SLICE
from eventd.keys import WORKER
from eventd.model import Event
from eventd.stats.keys import STATS
from eventd.stats.summaries import exact_summary
from eventd.store.base import Engine
from eventd.store.commands import PutMany
from eventd.store.worker import SCAN_PAGE
from eventd.times import US
from tests.conftest import NOW, MakeClient
from tests.turns import Turns
from tests.waiting import wait_for

Client = TestClient[Any, Any]
COUNT = 3 * SCAN_PAGE + 17


@pytest.fixture
def engine(memory_or_redis_engine: Engine) -> Engine:
    return memory_or_redis_engine


def events(count: int) -> list[Event]:
    """Return `count` events of the last 23 hours, with values that repeat (and -0.0)."""
    rng = random.Random(20)
    made = []
    for n in range(count):
        value = rng.choice([0.0, -0.0, 1.5, rng.uniform(-50, 50)])
        ts = NOW - rng.randrange(23 * 3600 * US)
        made.append(
            Event(
                id=f"e{n:05}",
                ts=ts,
                seq=-1,
                type=rng.choice(["a", "b"]),
                key=None,
                title=None,
                description=None,
                value=value,
                data=msgspec.Raw(b"null"),
                remind=None,
                created=NOW,
                updated=NOW,
            )
        )
    return made


async def filled(make_client: MakeClient, engine: Engine) -> tuple[Client, list[Event]]:
    client = await make_client(engine=engine)
    stored = events(COUNT)
    await client.app[WORKER].call(PutMany(stored))
    hub = client.app[STATS].hub
    head = (await hub.engine.read_changes(0, 1)).head
    await wait_for(lambda: hub.position >= head, "the feed to reach the statistics")
    return client, stored


async def test_a_rebuild_after_a_gap_lets_other_tasks_run(
    make_client: MakeClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _ = await filled(make_client, engine)
    stats = client.app[STATS]
    before = stats.snapshot()
    load_event = stats.load_event
    async with Turns() as turns:

        def marking(event: Event) -> None:
            turns.mark()
            load_event(event)

        monkeypatch.setattr(stats, "load_event", marking)
        stats._on_gap()  # as when the hub lost changes
        assert stats._rebuilding is not None
        await stats._rebuilding
    assert stats.snapshot() == before
    assert len(turns.marks) == COUNT
    assert turns.longest_run() <= SLICE < SCAN_PAGE


async def test_range_statistics_let_other_tasks_run_and_answer_as_one_sort(
    make_client: MakeClient, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small runs, so that these events fill several, merged at several levels.
    monkeypatch.setattr(ranges, "RUN", 64)
    monkeypatch.setattr(ranges, "MAX_RUN", 256)
    client, stored = await filled(make_client, engine)
    start, end = NOW - 20 * 3600 * US, NOW
    inside = sorted((e for e in stored if start <= e.ts <= end), key=lambda e: (e.ts, e.seq))
    async with Turns() as turns:
        got = await client.app[STATS].over_range(start, end, None)
        during = turns.count
    expected = exact_summary([e.value for e in inside if e.value is not None])
    assert repr({k: got[k] for k in expected}) == repr(expected)
    assert during >= len(inside) // SCAN_PAGE  # a turn at least per page of the store
