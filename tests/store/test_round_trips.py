"""A store call of many round trips (a clear) is bounded per round trip, not in total."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis

from eventd.store.base import Query
from eventd.store.commands import Clear, Count, PutMany
from eventd.store.redis.engine import RedisEngine
from eventd.store.worker import StoreWorker
from tests.redis_server import RedisServer
from tests.store.test_conformance import ev

pytestmark = pytest.mark.redis

# engine.redis.timeout here: far less than walking every key takes (some 600 round trips),
# yet enough for one round trip on a loaded 2-core machine (0.05 s was not).
TIMEOUT = 0.25
KEYS = 300_000  # keys of the namespace for a clear to walk, a thousand per round trip


@pytest.fixture
async def worker(redis_server: RedisServer, redis_namespace: str) -> AsyncIterator[StoreWorker]:
    worker = StoreWorker(RedisEngine(redis_server.url, namespace=redis_namespace, timeout=TIMEOUT))
    await worker.start()
    yield worker
    await worker.stop(drain_timeout=5)
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushdb()


async def test_a_clear_of_many_keys_is_not_cut_while_redis_answers(
    worker: StoreWorker, redis_server: RedisServer, redis_namespace: str
) -> None:
    await worker.call(PutMany([ev("a")]))
    with redis.Redis.from_url(redis_server.url) as client:
        for start in range(0, KEYS, 10_000):  # index keys, as many timelines leave
            with client.pipeline(transaction=False) as pipe:
                for n in range(start, start + 10_000):
                    pipe.set(f"{{{redis_namespace}}}:key:k{n}", 1)
                pipe.execute()
        assert await worker.call(Clear()) == 1
        assert client.keys(f"{{{redis_namespace}}}:key:*") == []
    assert await worker.call(Count(Query())) == 0
    feed = await worker.engine.read_changes(0, 10)
    assert [change.op for change in feed.changes] == ["created", "cleared"]
