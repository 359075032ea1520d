"""Storage: the engine contract, the engines, and the worker that owns one."""

from __future__ import annotations

from eventd.config import Config
from eventd.store.base import Engine


def engine_class(name: str) -> type[Engine]:
    """Return the engine class of a configured name, importing only that engine's module."""
    # A daemon loads the client library of its own engine, not of the others.
    match name:
        case "redis":
            from eventd.store.redis.engine import RedisEngine

            return RedisEngine
        case "mongo":
            from eventd.store.mongo import MongoEngine

            return MongoEngine
    from eventd.store.memory import MemoryEngine

    return MemoryEngine


def make_engine(config: Config) -> Engine:
    """Return the engine the configuration names, not yet opened."""
    return engine_class(config.engine.name).from_config(config)
