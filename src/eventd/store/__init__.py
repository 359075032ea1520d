"""Storage: the engine contract, the engines, and the worker that owns one."""

from __future__ import annotations

from importlib.util import find_spec

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


def missing_driver(name: str) -> str | None:
    """Return why the engine of a configured name cannot run here, or None if it can."""
    # motor is an extra: say how to install it rather than fail with a traceback at start.
    if name == "mongo" and find_spec("motor") is None:
        return "the mongo engine needs motor, not installed: pip install 'eventd[mongo]'"
    return None


def make_engine(config: Config) -> Engine:
    """Return the engine the configuration names, not yet opened."""
    return engine_class(config.engine.name).from_config(config)
