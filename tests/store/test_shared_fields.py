"""Daemons sharing one store with different `timelines.indexed_fields`: the store's recorded
set is the authority, every write is filed under it, and every search stays exact."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import msgspec
import pytest
import redis.asyncio

from eventd.fields import parse_path
from eventd.model import Event
from eventd.store.base import Engine, Query
from eventd.store.mongo import MongoEngine
from eventd.store.redis.engine import RedisEngine
from eventd.store.redis.layout import Keys
from eventd.store.where import token
from tests.redis_server import RedisServer
from tests.store.test_conformance import T0, ev

STATUS, N = parse_path("status"), parse_path("n")
Opener = Callable[[tuple[str, ...]], Awaitable[Engine]]


def job(id: str, status: str, n: int, ts: int = T0) -> Event:
    data = msgspec.Raw(msgspec.json.encode({"status": status, "n": n}))
    return ev(id, ts, data=data)


async def ids(engine: Engine, *clauses: tuple[Any, Any], limit: int = 1000) -> list[str]:
    page = await engine.query(Query(where=clauses, limit=limit))
    assert await engine.count(Query(where=clauses)) == len(page.events)
    return [event.id for event in page.events]


@pytest.fixture(params=[pytest.param("redis", marks=pytest.mark.redis), "mongo"])
async def opener(
    request: pytest.FixtureRequest, redis_server: RedisServer, redis_namespace: str
) -> AsyncIterator[Opener]:
    """Open engines of one store, each with its own indexed fields."""
    opened: list[Engine] = []
    mongo_client: Any = None
    if request.param == "mongo":
        from mongomock_motor import AsyncMongoMockClient

        mongo_client = AsyncMongoMockClient()

    async def open(fields: tuple[str, ...]) -> Engine:
        engine: Engine
        if mongo_client is not None:
            engine = MongoEngine("mongodb://mock", client=mongo_client, indexed_fields=fields)
        else:
            engine = RedisEngine(redis_server.url, namespace=redis_namespace, indexed_fields=fields)
        await engine.open()
        opened.append(engine)
        return engine

    yield open
    if mongo_client is None:
        client = redis.asyncio.Redis.from_url(redis_server.url)
        await client.delete(
            *[key async for key in client.scan_iter(Keys(redis_namespace).pattern)] or ["-"]
        )
        await client.aclose()
    for engine in opened:
        await engine.close()


async def test_writes_of_either_daemon_are_found_by_both(opener: Opener) -> None:
    plain = await opener(())
    indexed = await opener(("status",))  # started last: its set is the store's
    await plain.put_many([job(f"p{i}", "wait" if i % 2 else "run", i, T0 + i) for i in range(6)])
    await indexed.put_many([job(f"i{i}", "wait", i, T0 + 10 + i) for i in range(2)])
    await plain.update("p0", {"data": msgspec.Raw(b'{"status":"wait","n":0}')}, updated=T0)
    await plain.delete("p3")
    expected = ["p0", "p1", "p5", "i0", "i1"]
    for engine in (plain, indexed):
        assert await ids(engine, (STATUS, "wait")) == expected
        assert await ids(engine, (STATUS, "wait"), (N, 1)) == ["p1", "i1"]
    # The indexed daemon reads only the index: the plain daemon filed its writes there too.
    read = indexed.events_read
    page = await indexed.query(Query(where=((STATUS, "wait"),)))
    assert [event.id for event in page.events] == expected
    assert indexed.events_read - read == len(expected)


async def test_a_daemon_dropping_a_field_leaves_the_others_exact(opener: Opener) -> None:
    indexed = await opener(("status",))
    await indexed.put_many([job(f"e{i}", "wait", i, T0 + i) for i in range(5)])
    assert await ids(indexed, (STATUS, "wait")) == [f"e{i}" for i in range(5)]
    plain = await opener(())  # drops the index the first daemon reads
    await indexed.put_many([job("late", "wait", 9, T0 + 9)])
    await plain.update("e0", {"data": msgspec.Raw(b'{"status":"end","n":0}')}, updated=T0)
    for engine in (indexed, plain):
        if isinstance(engine, MongoEngine):
            engine._search._loaded_at = -1.0  # past its once-a-second check of the version
        assert await ids(engine, (STATUS, "wait")) == ["e1", "e2", "e3", "e4", "late"]


async def test_a_daemon_unlike_the_store_says_so_once(
    opener: Opener, caplog: pytest.LogCaptureFixture
) -> None:
    first = await opener(("status",))
    with caplog.at_level(logging.WARNING):
        await opener(("status", "n"))
        await first.put_many([job("a", "wait", 1)])
        await first.put_many([job("b", "wait", 2)])
    warnings = [r.message for r in caplog.records if "timelines.indexed_fields" in r.message]
    assert warnings == [
        "the store indexes the fields [/n, /status], timelines.indexed_fields lists [/status]:"
        " writes are filed under the store's fields, searches use those ready there"
    ]
    assert await ids(first, (N, 2)) == ["b"]


async def test_two_daemons_starting_together_build_one_whole_index(opener: Opener) -> None:
    writer = await opener(())
    await writer.put_many(
        [job(f"e{i:03}", "wait" if i % 3 else "run", i, T0 + i) for i in range(600)]
    )
    first, second = await asyncio.gather(opener(("status",)), opener(("status",)))
    expected = [f"e{i:03}" for i in range(600) if i % 3]
    for engine in (first, second, writer):
        read = engine.events_read
        page = await engine.query(Query(where=((STATUS, "wait"),), limit=1000))
        assert [event.id for event in page.events] == expected
        # From the index, ready (the writer on MongoDB sees it within a second: it scans).
        if engine is not writer:
            assert engine.events_read - read == len(expected)


@pytest.mark.redis
async def test_the_reviewers_repro_on_redis(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    plain = RedisEngine(redis_server.url, namespace=redis_namespace)
    await plain.open()  # opened first: it loaded a set without `status`
    indexed = RedisEngine(redis_server.url, namespace=redis_namespace, indexed_fields=("status",))
    await indexed.open()
    await indexed.put_many([job(f"e{i:03}", "wait", i, T0 + i) for i in range(300)])
    await plain.delete("e010")
    assert await ids(indexed, (STATUS, "wait"), (N, 290)) == ["e290"]
    page = await indexed.query(Query(where=((STATUS, "wait"),), limit=10))
    assert page.more
    assert len(page.events) == 10
    assert await indexed.count(Query(where=((STATUS, "wait"),))) == 299
    await plain.close()
    await indexed.close()


@pytest.mark.redis
async def test_redis_pages_past_index_entries_whose_events_are_gone(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    engine = RedisEngine(redis_server.url, namespace=redis_namespace, indexed_fields=("status",))
    await engine.open()
    await engine.put_many([job(f"e{i:03}", "wait", i, T0 + i) for i in range(300)])
    # Events gone from under their index entries (eviction, or data loss).
    client = redis.asyncio.Redis.from_url(redis_server.url)
    await client.hdel(Keys(redis_namespace).events, "e005", "e010")
    await client.aclose()
    assert await ids(engine, (STATUS, "wait"), (N, 290)) == ["e290"]
    for query in (Query(where=((STATUS, "wait"),), limit=10), Query(limit=10)):
        page = await engine.query(query)
        assert page.more, query
        assert [e.id for e in page.events][-1] == "e011"
    desc = await engine.query(Query(where=((N, 4),), order="desc", limit=1))
    assert [e.id for e in desc.events] == ["e004"]
    await engine.close()


@pytest.mark.redis
async def test_redis_build_files_no_event_written_while_it_read(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    writer = RedisEngine(redis_server.url, namespace=redis_namespace)
    await writer.open()
    await writer.put_many([job(f"e{i}", "wait", i, T0 + i) for i in range(5)])
    builder = RedisEngine(redis_server.url, namespace=redis_namespace, indexed_fields=("status",))
    scan = builder._client.hscan

    async def scan_then_write(*args: Any, **kwargs: Any) -> Any:
        found = await scan(*args, **kwargs)
        # A write lands between the build's read of an event and its filing.
        await writer.update("e0", {"data": msgspec.Raw(b'{"status":"end","n":0}')}, updated=T0)
        return found

    builder._client.hscan = scan_then_write  # type: ignore[method-assign]
    await builder.open()
    client = redis.asyncio.Redis.from_url(redis_server.url)
    keys = Keys(redis_namespace)
    assert await client.zcard(keys.by_value(token(STATUS, "wait"))) == 4
    assert await client.zcard(keys.by_value(token(STATUS, "end"))) == 1
    await client.aclose()
    await writer.close()
    await builder.close()
