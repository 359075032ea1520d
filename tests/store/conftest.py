"""Engines for the conformance suite: one fixture per engine, one parametrised `engine`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from eventd.store.base import Engine
from eventd.store.memory import MemoryEngine


@pytest.fixture
async def memory_engine() -> AsyncIterator[Engine]:
    engine = MemoryEngine()
    await engine.open()
    yield engine
    await engine.close()


@pytest.fixture(params=[pytest.param("memory", marks=pytest.mark.memory)])
def engine(request: pytest.FixtureRequest) -> Any:
    """Every engine in turn: the conformance suite runs unchanged on each."""
    return request.getfixturevalue(f"{request.param}_engine")
