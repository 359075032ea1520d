"""Fixtures of the reminders feature's tests: an engine that keeps reminders, an app with an
injected clock on it, and WebSocket helpers."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from eventd.config import Config
from eventd.reminders.keys import REMINDERS
from eventd.reminders.service import ReminderService
from eventd.store.base import Engine
from eventd.store.memory import MemoryEngine
from tests.conftest import MakeClient, make_config

Client = TestClient[Any, Any]
MINUTE = 60_000_000  # µs


def reminding_engine(config: Config | None = None) -> Engine:
    """Return a memory engine with the configuration's default reminder offsets."""
    return MemoryEngine.from_config(config or make_config())


@pytest.fixture
def make_reminding(make_client: MakeClient) -> Any:
    """Return a factory of clients of an app whose engine keeps reminders."""

    async def make(config: Config | None = None, engine: Engine | None = None) -> Client:
        config = config or make_config()
        return await make_client(config, engine or reminding_engine(config))

    return make


@pytest.fixture
async def client(make_reminding: Any) -> Client:
    client: Client = await make_reminding()
    return client


def service(client: Client) -> ReminderService:
    return client.app[REMINDERS]
