"""`make_engine`: the engine the configuration names, with its settings."""

from __future__ import annotations

import dataclasses

from eventd.config import Config, EngineConfig, FeedConfig, MongoConfig, RedisConfig
from eventd.store import make_engine
from eventd.store.memory import MemoryEngine
from eventd.store.mongo import MongoEngine
from eventd.store.redis.engine import RedisEngine
from tests.store.test_conformance import ev


def config(name: str) -> Config:
    engine = EngineConfig(
        name=name,
        redis=RedisConfig(url="redis://127.0.0.1:1/0", namespace="ns", timeout=0.5),
        mongo=MongoConfig(url="mongodb://127.0.0.1:1", database="db", collection="c", timeout=0.7),
    )
    return dataclasses.replace(Config(), engine=engine, feed=FeedConfig(history=123))


async def test_the_memory_engine_keeps_the_feeds_history() -> None:
    engine = make_engine(config("memory"))
    assert isinstance(engine, MemoryEngine)
    await engine.put_many([ev(f"e{n}") for n in range(130)])
    assert (await engine.read_changes(0, 1000)).oldest == 130 - 123 + 1


async def test_the_redis_engine_takes_its_section_and_the_feeds_history() -> None:
    engine = make_engine(config("redis"))
    assert isinstance(engine, RedisEngine)
    assert (engine.timeout, engine._keys.events, engine._history) == (0.5, "{ns}:events", 123)
    await engine.close()


async def test_the_mongo_engine_takes_its_section_and_the_feeds_history() -> None:
    engine = make_engine(config("mongo"))
    assert isinstance(engine, MongoEngine)
    assert engine.timeout == 0.7 and engine._history == 123
    assert engine._events.full_name == "db.c"
    await engine.close()
