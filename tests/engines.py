"""Engine fixtures: one per engine, and `engine`, parametrised over all of them.

Engines come unopened; whoever uses one opens it (the conformance suite directly, the app
through its store worker). Redis runs as a real server started by the tests. MongoDB cannot
run on these machines: the mongo engine runs on mongomock-motor (test id `mongo-mock`), and
on a real server (test id `mongo`) when EVENTD_TEST_MONGODB_URL is set.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from eventd.store.base import Engine
from eventd.store.memory import MemoryEngine
from eventd.store.mongo import MongoEngine
from eventd.store.redis.engine import RedisEngine
from tests.redis_server import RedisServer

MONGODB_URL = os.environ.get("EVENTD_TEST_MONGODB_URL")
_names = itertools.count()

ENGINE_PARAMS = [
    pytest.param("memory", marks=pytest.mark.memory, id="memory"),
    pytest.param("redis", marks=pytest.mark.redis, id="redis"),
    pytest.param("mongo_mock", marks=pytest.mark.mongo, id="mongo-mock"),
]
if MONGODB_URL:
    ENGINE_PARAMS.append(pytest.param("mongo_real", marks=pytest.mark.mongo, id="mongo"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone, which the test may stop."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop(kill=True)


@pytest.fixture
def first_seq() -> int:
    """The seq of a store's first event; a test may override it."""
    return 1


@pytest.fixture
def history() -> int:
    """How many changes an engine's feed keeps; a test may override it."""
    return 10_000


@pytest.fixture
def indexed_fields() -> tuple[str, ...]:
    """The field paths an engine indexes by value; a test may override it."""
    return ()


@pytest.fixture
def memory_engine(first_seq: int, history: int, indexed_fields: tuple[str, ...]) -> Engine:
    return MemoryEngine(first_seq=first_seq, history=history, indexed_fields=indexed_fields)


@pytest.fixture
def redis_namespace() -> str:
    return f"test{next(_names)}"


@pytest.fixture
def redis_engine(
    redis_server: RedisServer,
    redis_namespace: str,
    first_seq: int,
    history: int,
    indexed_fields: tuple[str, ...],
) -> Iterator[Engine]:
    yield RedisEngine(
        redis_server.url,
        namespace=redis_namespace,
        first_seq=first_seq,
        history=history,
        indexed_fields=indexed_fields,
    )
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushdb()


@pytest.fixture
def redis_twin(redis_server: RedisServer, redis_namespace: str) -> Callable[[], Engine]:
    """Make another engine on the store of `redis_engine`: a second daemon's view of it."""
    return lambda: RedisEngine(redis_server.url, namespace=redis_namespace)


@pytest.fixture
def mongo_mock_engine(first_seq: int, history: int, indexed_fields: tuple[str, ...]) -> Engine:
    from mongomock_motor import AsyncMongoMockClient

    client = AsyncMongoMockClient()
    return MongoEngine(
        "mongodb://mock",
        client=client,
        first_seq=first_seq,
        history=history,
        indexed_fields=indexed_fields,
    )


@pytest.fixture
def mongo_real_engine(
    first_seq: int, history: int, indexed_fields: tuple[str, ...]
) -> Iterator[Engine]:
    import pymongo

    assert MONGODB_URL is not None
    database = f"eventd_test_{os.getpid()}_{next(_names)}"
    yield MongoEngine(
        MONGODB_URL,
        database=database,
        first_seq=first_seq,
        history=history,
        indexed_fields=indexed_fields,
    )
    with pymongo.MongoClient(MONGODB_URL) as client:
        client.drop_database(database)


@pytest.fixture(params=ENGINE_PARAMS[:2])
def memory_or_redis_engine(request: pytest.FixtureRequest) -> Any:
    """The memory and redis engines in turn, unopened: where real I/O and none both matter."""
    return request.getfixturevalue(f"{request.param}_engine")


@pytest.fixture(params=ENGINE_PARAMS)
def any_engine(request: pytest.FixtureRequest) -> Any:
    """Every engine in turn, unopened."""
    return request.getfixturevalue(f"{request.param}_engine")
