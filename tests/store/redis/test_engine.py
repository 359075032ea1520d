"""Redis-specific behaviour: large batches go in chunks and stay all or nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import redis

from eventd.store.base import Engine, IdConflict, Query
from eventd.store.redis.engine import RedisEngine
from tests.redis_server import RedisServer
from tests.store.test_conformance import T0, ev

pytestmark = pytest.mark.redis


@pytest.fixture
async def engine(redis_engine: Engine) -> AsyncIterator[Engine]:
    await redis_engine.open()
    yield redis_engine
    await redis_engine.close()


async def test_a_batch_larger_than_a_chunk_is_stored_whole(engine: Engine) -> None:
    results = await engine.put_many([ev(f"e{i}", T0 + i) for i in range(4500)])
    assert all(result.created for result in results)
    assert await engine.count(Query()) == 4500
    feed = await engine.read_changes(0, 10_000)
    assert [c.position for c in feed.changes] == list(range(1, 4501))


async def test_a_known_id_at_the_end_of_a_large_batch_stores_nothing(engine: Engine) -> None:
    await engine.put_many([ev("known", value=1.0)])
    batch = [ev(f"e{i}", T0 + i) for i in range(4500)] + [ev("known", value=2.0)]
    with pytest.raises(IdConflict):
        await engine.put_many(batch)
    assert await engine.count(Query()) == 1


async def test_two_engines_on_one_store_never_share_a_seq(
    engine: Engine, redis_twin: Callable[[], Engine]
) -> None:
    twin = redis_twin()
    await twin.open()
    try:
        results = []
        for i in range(30):  # interleaved single puts and batches from both
            results += await engine.put_many([ev(f"a{i}")])
            results += await twin.put_many([ev(f"b{i}.{j}") for j in range(i % 4 + 1)])
    finally:
        await twin.close()
    seqs = [result.event.seq for result in results]
    assert len(set(seqs)) == len(seqs)
    page = await engine.query(Query(limit=1000))
    assert [(e.ts, e.seq) for e in page.events] == sorted((e.ts, e.seq) for e in page.events)
    assert len(page.events) == len(seqs)


async def test_chunks_written_before_a_late_conflict_are_undone(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another writer stores an id of the third chunk after the batch's ids were checked:
    # the check is skipped here so that the conflict shows only when that chunk is written.
    await engine.put_many([ev("late", value=1.0)])

    async def nothing_found(ids: list[str]) -> list[str]:
        return []

    monkeypatch.setattr(engine, "_existing", nothing_found)
    batch = [ev(f"e{i}", T0 + i) for i in range(9000)]
    batch[4500] = ev("late", value=2.0)
    with pytest.raises(IdConflict):
        await engine.put_many(batch)
    assert [e.id for e in (await engine.query(Query(limit=10))).events] == ["late"]
    assert await engine.count(Query(type="event")) == 1
    for id in ("e0", "e3999", "e4000", "e6001", "e8999"):  # every chunk: none is left
        assert await engine.get(id) is None


async def test_the_feed_reads_the_same_over_resp3(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    # Feed entries are read without redis-py's parsing, so each protocol's shape is handled.
    engine = RedisEngine(f"{redis_server.url}?protocol=3", namespace=redis_namespace)
    await engine.open()
    try:
        await engine.put_many([ev("a", value=1.0), ev("b")])
        await engine.update("a", {"value": 2.0}, updated=T0)
        await engine.delete("b")
        feed = await engine.read_changes(0, 10)
        waited = await engine.wait_changes(0, block=0.1)
    finally:
        await engine.close()
    expected = [(1, "created", "a"), (2, "created", "b"), (3, "updated", "a"), (4, "deleted", "b")]
    for changes in (feed.changes, waited):
        assert [(c.position, c.op, c.event and c.event.id) for c in changes] == expected
    assert feed.changes[2].event is not None and feed.changes[2].event.value == 2.0
    assert (feed.oldest, feed.head) == (1, 4)


async def test_a_lost_history_takes_the_seq_block_with_it(
    engine: Engine, redis_server: RedisServer
) -> None:
    await engine.put_many([ev("a")])  # reserves a block of seqs from the store's counter
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushdb()  # the store loses its history, counter included
        engine.forget_written_position()
        [result] = await engine.put_many([ev("b")])
        # The seq comes from the new counter, not from the old block, whose numbers the
        # new counter hands out again.
        assert client.keys("*:seq") != []
    assert result.event.seq == 1
