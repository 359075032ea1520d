"""Storage: the engine contract, the engines, and the worker that owns one."""

from __future__ import annotations

from eventd.config import Config
from eventd.store.base import Engine
from eventd.store.memory import MemoryEngine


def make_engine(config: Config) -> Engine:
    """Return the engine the configuration names, not yet opened."""
    match config.engine.name:
        case "memory":
            return MemoryEngine()
    raise ValueError(f"engine {config.engine.name!r} is not available")
