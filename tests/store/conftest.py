"""The conformance suite's `engine`: every engine in turn, opened."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from eventd.store.base import Engine


@pytest.fixture
async def engine(any_engine: Engine) -> AsyncIterator[Engine]:
    await any_engine.open()
    yield any_engine
    await any_engine.close()
