"""Shared fixtures: a controllable clock, configurations and real HTTP clients of the app."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import settings

from eventd.app import create_app
from eventd.config import Config, load
from eventd.store.base import Engine
from eventd.times import parse_timestamp

pytest_plugins = ["tests.engines"]

# CI runs the same examples every time, so that a red build is about the change it tests;
# elsewhere hypothesis keeps exploring new ones (and replays the failures it saved). No
# example has a deadline: how long one takes depends on the machine's load, and timings
# belong to the benchmarks.
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("local", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "local")

NOW = parse_timestamp("2025-06-01T12:00:00Z", None)


class FakeClock:
    """A clock the test moves by hand; times are microseconds since the epoch."""

    def __init__(self, now: int = NOW) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += round(seconds * 1_000_000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_config(**sections: dict[str, Any]) -> Config:
    """Return the default configuration with the given keys changed, e.g. limits={...}."""
    overrides = {
        f"{section}.{key}": value
        for section, keys in sections.items()
        for key, value in keys.items()
    }
    config = load(overrides=overrides)
    # Tests read naive timestamps in UTC so that they do not depend on the machine's zone.
    if "time" not in sections:
        config = dataclasses.replace(
            config, time=dataclasses.replace(config.time, naive_timezone="UTC")
        )
    return config


MakeClient = Callable[..., Awaitable[TestClient[Any, Any]]]


@pytest.fixture
def make_client(aiohttp_client: Any, clock: FakeClock) -> MakeClient:
    """Return a factory of real HTTP clients against a fresh app on a loopback port."""

    async def make(
        config: Config | None = None, engine: Engine | None = None
    ) -> TestClient[Any, Any]:
        app = create_app(config or make_config(), clock=clock, engine=engine)
        client: TestClient[Any, Any] = await aiohttp_client(app)
        return client

    return make


@pytest.fixture
async def client(make_client: MakeClient, any_engine: Engine) -> TestClient[Any, Any]:
    """A client of the app on each engine in turn."""
    return await make_client(engine=any_engine)
