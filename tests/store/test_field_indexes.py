"""Indexed fields: a search reads only the events with the value, and a persistent store
keeps its indexes in line with `indexed_fields` across restarts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import redis.asyncio

from eventd.fields import parse_path
from eventd.model import Event
from eventd.store.base import Engine, Query, engine_options
from eventd.store.memory import MemoryEngine
from eventd.store.mongo import MongoEngine
from eventd.store.redis.engine import RedisEngine
from eventd.store.redis.layout import Keys
from eventd.store.redis.packing import member
from eventd.store.where import field_id, token
from tests.conftest import make_config
from tests.redis_server import RedisServer
from tests.store.test_conformance import T0, ev

STATUS = parse_path("status")


def job(id: str, status: Any, ts: int = T0, **fields: Any) -> Event:
    data = {"status": status, "v": 1}
    return ev(id, ts, data=msgspec.Raw(msgspec.json.encode(data)), **fields)


def wait(*clauses: tuple[str, Any], **query: Any) -> Query:
    where = ((STATUS, "wait"), *((parse_path(p), v) for p, v in clauses))
    return Query(where=where, **query)


async def stored(engine: Engine, unrelated: int = 500) -> None:
    """Store `unrelated` running jobs around three waiting ones."""
    events = [job(f"r{i}", "run", T0 + i, type="job") for i in range(unrelated)]
    events += [job(f"w{i}", "wait", T0 + 100 * i + 50, type="job") for i in range(3)]
    await engine.put_many(events)


@pytest.mark.parametrize("indexed_fields", [("status",)])
async def test_an_indexed_search_reads_only_the_events_with_the_value(
    engine: Engine, indexed_fields: tuple[str, ...]
) -> None:
    await stored(engine)
    read = engine.events_read
    page = await engine.query(wait(limit=10))
    assert [e.id for e in page.events] == ["w0", "w1", "w2"]
    assert engine.events_read - read == 3
    # Other clauses and filters are checked on the same few events.
    read = engine.events_read
    assert len((await engine.query(wait(("v", 1), type="job", limit=10))).events) == 3
    assert await engine.count(wait(("v", 1), type="job")) == 3
    assert engine.events_read - read <= 6
    read = engine.events_read
    assert await engine.count(wait()) == 3
    assert engine.events_read - read <= 3  # an exact index: counted without reading events


@pytest.mark.parametrize("indexed_fields", [()])
async def test_a_search_on_a_field_not_indexed_scans(
    engine: Engine, indexed_fields: tuple[str, ...]
) -> None:
    await stored(engine)
    read = engine.events_read
    page = await engine.query(wait(limit=10))
    assert [e.id for e in page.events] == ["w0", "w1", "w2"]
    assert engine.events_read - read == 503


@pytest.mark.parametrize("indexed_fields", [("status",)])
async def test_the_narrower_index_is_read(engine: Engine, indexed_fields: tuple[str, ...]) -> None:
    if engine.name == "mongo":
        pytest.skip("the MongoDB server's planner chooses its index")
    await stored(engine)
    await engine.put_many([job("k", "wait", T0 + 1, key="rare")])
    read = engine.events_read
    page = await engine.query(wait(key="rare"))
    assert [e.id for e in page.events] == ["k"]
    assert engine.events_read - read == 1  # the key's index (1 event), not the value's (4)


async def _redis(server: RedisServer, ns: str, fields: tuple[str, ...]) -> RedisEngine:
    engine = RedisEngine(server.url, namespace=ns, indexed_fields=fields)
    await engine.open()
    return engine


async def states(raw_redis: redis.asyncio.Redis, keys: Keys) -> dict[bytes, bytes]:
    """Return the states of the store's indexed fields, without their version."""
    found = await raw_redis.hgetall(keys.fields)
    return {key: state for key, state in found.items() if key != b"#version"}


@pytest.fixture
async def raw_redis(redis_server: RedisServer) -> AsyncIterator[redis.asyncio.Redis]:
    client = redis.asyncio.Redis.from_url(redis_server.url)
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.mark.redis
async def test_redis_builds_and_drops_indexes_when_the_listed_fields_change(
    redis_server: RedisServer,
    redis_namespace: str,
    raw_redis: redis.asyncio.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    keys = Keys(redis_namespace)
    waiting = keys.by_value(token(STATUS, "wait"))
    before = await _redis(redis_server, redis_namespace, ())
    await stored(before)
    await before.close()
    assert await raw_redis.exists(waiting) == 0

    with caplog.at_level(logging.INFO, logger="eventd.store.redis.indexes"):
        after = await _redis(redis_server, redis_namespace, ("status",))
    assert "indexed /status in 503 events" in caplog.text
    assert await raw_redis.zcard(waiting) == 3
    assert await states(raw_redis, keys) == {b"/status": b"ready"}
    read = after.events_read
    assert [e.id for e in (await after.query(wait())).events] == ["w0", "w1", "w2"]
    assert after.events_read - read == 3
    await after.update("w1", {"data": msgspec.Raw(b'{"status":"end"}')}, updated=T0)
    assert await raw_redis.zcard(waiting) == 2
    await after.close()

    again = await _redis(redis_server, redis_namespace, ("status",))
    assert await raw_redis.zcard(waiting) == 2  # nothing rebuilt: the index was ready
    await again.close()

    dropped = await _redis(redis_server, redis_namespace, ())
    pattern = keys.field_pattern(field_id(STATUS))
    assert [key async for key in raw_redis.scan_iter(match=pattern)] == []
    assert await states(raw_redis, keys) == {}
    assert [e.id for e in (await dropped.query(wait())).events] == ["w0", "w2"]
    await dropped.close()


@pytest.mark.redis
async def test_redis_clear_keeps_the_fields_indexed(
    redis_server: RedisServer, redis_namespace: str, raw_redis: redis.asyncio.Redis
) -> None:
    engine = await _redis(redis_server, redis_namespace, ("status",))
    await stored(engine, unrelated=5)
    await engine.clear()
    waiting = Keys(redis_namespace).by_value(token(STATUS, "wait"))
    assert await raw_redis.exists(waiting) == 0
    await engine.put_many([job("new", "wait")])
    assert await raw_redis.zcard(waiting) == 1
    await engine.close()
    again = await _redis(redis_server, redis_namespace, ("status",))
    assert [e.id for e in (await again.query(wait())).events] == ["new"]
    await again.close()


@pytest.mark.mongo
async def test_mongo_rewrites_the_tokens_when_the_listed_fields_change() -> None:
    from mongomock_motor import AsyncMongoMockClient

    client = AsyncMongoMockClient()
    documents = client["eventd"]["events"]

    async def opened(fields: tuple[str, ...]) -> MongoEngine:
        engine = MongoEngine("mongodb://mock", client=client, indexed_fields=fields)
        await engine.open()
        return engine

    before = await opened(())
    await stored(before)
    assert await documents.count_documents({"f": token(STATUS, "wait")}) == 0

    after = await opened(("status",))
    assert await documents.count_documents({"f": token(STATUS, "wait")}) == 3
    assert await documents.count_documents({"f": token(STATUS, "run")}) == 500
    index_keys = [ix["key"] for ix in (await documents.index_information()).values()]
    assert [("f", 1), ("t", 1), ("seq", 1)] in index_keys
    read = after.events_read
    assert [e.id for e in (await after.query(wait())).events] == ["w0", "w1", "w2"]
    assert after.events_read - read == 3
    # Writes from now on keep the tokens.
    await after.update("w1", {"data": msgspec.Raw(b'{"status":"end"}')}, updated=T0)
    await after.put_many([job("w3", "wait", T0 + 1000)])
    assert await documents.count_documents({"f": token(STATUS, "wait")}) == 3

    dropped = await opened(())
    assert await documents.count_documents({"f": {"$ne": []}}) == 0
    assert [e.id for e in (await dropped.query(wait())).events] == ["w0", "w2", "w3"]


@pytest.mark.redis
async def test_redis_finishes_a_build_cut_short_and_its_leftovers_never_answer(
    redis_server: RedisServer, redis_namespace: str, raw_redis: redis.asyncio.Redis
) -> None:
    keys = Keys(redis_namespace)
    engine = await _redis(redis_server, redis_namespace, ())
    await stored(engine, unrelated=5)
    r0 = await engine.get("r0")
    assert r0 is not None
    await engine.close()
    # What a build stopped midway may leave: the field still `building`, some events not
    # filed yet, and an entry gone stale (r0 is `run`, filed under `stale`).
    stale = keys.by_value(token(STATUS, "stale"))
    await raw_redis.zadd(stale, {member(r0): 0})
    await raw_redis.hset(keys.fields, "/status", "building")
    again = await _redis(redis_server, redis_namespace, ("status",))
    assert await raw_redis.zcard(keys.by_value(token(STATUS, "wait"))) == 3
    assert await states(raw_redis, keys) == {b"/status": b"ready"}
    assert [e.id for e in (await again.query(wait(limit=10))).events] == ["w0", "w1", "w2"]
    # The indexed clause is checked on every event read: the stale entry is read, not found.
    stale_query = Query(where=((STATUS, "stale"),))
    read = again.events_read
    assert (await again.query(stale_query)).events == []
    assert again.events_read - read == 1
    assert await again.count(stale_query) == 0
    await again.close()


@pytest.mark.redis
async def test_redis_drops_what_a_drop_cut_short_left_before_building(
    redis_server: RedisServer, redis_namespace: str, raw_redis: redis.asyncio.Redis
) -> None:
    keys = Keys(redis_namespace)
    engine = await _redis(redis_server, redis_namespace, ())
    await stored(engine, unrelated=5)
    r0 = await engine.get("r0")
    assert r0 is not None
    await engine.close()
    stale = keys.by_value(token(STATUS, "stale"))
    await raw_redis.zadd(stale, {member(r0): 0})
    await raw_redis.hset(keys.fields, "/status", "dropping")
    again = await _redis(redis_server, redis_namespace, ("status",))
    assert await raw_redis.exists(stale) == 0
    assert await raw_redis.zcard(keys.by_value(token(STATUS, "wait"))) == 3
    assert await states(raw_redis, keys) == {b"/status": b"ready"}
    await again.close()


@pytest.mark.mongo
async def test_mongo_checks_the_indexed_clause_on_every_document_read() -> None:
    from mongomock_motor import AsyncMongoMockClient

    client = AsyncMongoMockClient()
    engine = MongoEngine("mongodb://mock", client=client, indexed_fields=("status",))
    await engine.open()
    await stored(engine, unrelated=5)
    # A document whose tokens went stale: r0 is `run`, filed under `wait`.
    await client["eventd"]["events"].update_one(
        {"_id": "r0"}, {"$set": {"f": [token(STATUS, "wait")]}}
    )
    assert [e.id for e in (await engine.query(wait(limit=10))).events] == ["w0", "w1", "w2"]
    assert await engine.count(wait()) == 3


async def test_the_configured_fields_are_indexed() -> None:
    config = make_config(timelines={"indexed_fields": "n, /a.b"})
    assert engine_options(config)["indexed_fields"] == ("n", "/a.b")
    engine = MemoryEngine.from_config(config)
    await engine.put_many([job("a", "run"), ev("b", data=msgspec.Raw(b'{"a.b":1,"n":2}'))])
    read = engine.events_read
    clause = ((parse_path("/a.b"), 1),)
    assert [e.id for e in (await engine.query(Query(where=clause))).events] == ["b"]
    assert engine.events_read - read == 1
    read = engine.events_read
    assert (await engine.query(wait())).events == []  # status is not indexed here: a scan
    assert engine.events_read - read == 2


def test_tokens_are_read_whether_or_not_the_key_is_written_with_escapes() -> None:
    # The index decodes `data` only when a listed key may be in it: a key written with
    # escapes, or found only inside a list, must still be filed.
    from eventd.store.where import FieldIndex

    index = FieldIndex(["status", "items.0", "/a.b"])

    def filed(data: bytes) -> list[str]:
        return index.tokens(ev("e", T0, data=msgspec.Raw(data)))

    assert filed(b'{"other":1}') == []
    assert filed(b'{"status":"wait"}') == [token(parse_path("status"), "wait")]
    assert filed(b'{"\\u0073tatus":"wait"}') == [token(parse_path("status"), "wait")]
    assert filed(b'{"items":["x"]}') == [token(parse_path("items.0"), "x")]
    assert filed(b'{"a.b":1,"a":{"b":2}}') == [token(parse_path("/a.b"), 1)]
    assert filed(b'"status"') == []


@pytest.mark.mongo
async def test_mongo_rebuild_reports_a_round_trip_per_batch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The store worker bounds each reported round trip: a rebuild that reported none would
    # be cut at one round trip's timeout, and start again from scratch, forever.
    from mongomock_motor import AsyncMongoMockClient

    from eventd.store.mongo import search

    monkeypatch.setattr(search, "BATCH", 10)
    client = AsyncMongoMockClient()

    async def reported(fields: tuple[str, ...]) -> int:
        engine = MongoEngine("mongodb://mock", client=client, indexed_fields=fields)
        count = 0

        def counted() -> None:
            nonlocal count
            count += 1

        engine.on_round_trip = counted
        await engine.open()
        return count

    await reported(())
    writer = MongoEngine("mongodb://mock", client=client)
    await writer.put_many([job(f"e{i}", "wait", T0 + i) for i in range(3 * search.BATCH + 1)])
    plain = await reported(())
    rebuilding = await reported(("status",))
    assert rebuilding - plain >= 4  # one per batch read at least
