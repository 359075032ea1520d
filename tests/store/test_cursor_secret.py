"""The secret that signs listing cursors: made once per store and kept by the engine."""

from __future__ import annotations

from collections.abc import Callable

from eventd.store.base import Engine
from eventd.store.memory import MemoryEngine
from eventd.store.mongo import MongoEngine


async def test_the_secret_is_made_once_and_survives_a_clear(engine: Engine) -> None:
    secret = await engine.cursor_secret()
    assert isinstance(secret, bytes) and len(secret) >= 32
    assert await engine.cursor_secret() == secret
    await engine.clear()
    assert await engine.cursor_secret() == secret


async def test_separate_memory_stores_have_separate_secrets() -> None:
    assert await MemoryEngine().cursor_secret() != await MemoryEngine().cursor_secret()


async def test_engines_on_one_redis_share_the_secret(
    redis_engine: Engine, redis_twin: Callable[[], Engine]
) -> None:
    twin = redis_twin()
    await redis_engine.open()
    await twin.open()
    try:
        first = await twin.cursor_secret()  # the one that asks first makes it
        assert await redis_engine.cursor_secret() == first
    finally:
        await twin.close()
        await redis_engine.close()


async def test_engines_on_one_mongodb_share_the_secret() -> None:
    from mongomock_motor import AsyncMongoMockClient

    client = AsyncMongoMockClient()
    one = MongoEngine("mongodb://mock", client=client)
    other = MongoEngine("mongodb://mock", client=client)
    elsewhere = MongoEngine("mongodb://mock", client=client, database="another")
    secret = await one.cursor_secret()
    assert await other.cursor_secret() == secret
    assert await elsewhere.cursor_secret() != secret
