"""Storage: the engine contract, the engines, and the worker that owns one."""

from __future__ import annotations

from eventd.config import Config
from eventd.store.base import Engine


def make_engine(config: Config) -> Engine:
    """Return the engine the configuration names, not yet opened."""
    settings = config.engine
    match settings.name:
        case "redis":
            from eventd.store.redis.engine import RedisEngine

            redis = settings.redis
            return RedisEngine(
                redis.url,
                namespace=redis.namespace,
                timeout=redis.timeout,
                history=config.feed.history,
            )
        case "mongo":
            from eventd.store.mongo import MongoEngine

            mongo = settings.mongo
            return MongoEngine(
                mongo.url,
                database=mongo.database,
                collection=mongo.collection,
                timeout=mongo.timeout,
                history=config.feed.history,
            )
    from eventd.store.memory import MemoryEngine

    return MemoryEngine(history=config.feed.history)
