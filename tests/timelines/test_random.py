"""Random histories over real HTTP, on every engine: whatever was posted, updated (moved,
given another value), deleted or cleared, `/transitions` of the indexed `status` (the
projection), of the same values under `other` (a scan of the store) and the brute force of
`transitions_of` over the final store all agree, for every window and filter."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventd.app import create_app
from eventd.fields import canonical, parse_path
from eventd.store.base import Engine
from eventd.store.memory import MemoryEngine
from eventd.store.mongo import MongoEngine
from eventd.store.redis.engine import RedisEngine
from eventd.timelines.points import Point, Window, transitions_of
from eventd.times import US, format_us, parse_timestamp
from tests.conftest import FakeClock, make_config
from tests.redis_server import RedisServer

BASE = parse_timestamp("2025-06-01T10:00:00Z", None)
VALUES = st.sampled_from(["start", "wait", "end", 1, 1.0, None, {"a": [1]}, "x"])
PRESENT = VALUES.map(lambda value: [value])
# An operation: a new event, an update (a move, another value) or a delete of one posted
# before (picked by a number, modulo), or a clear; mostly new events, for long timelines.
KIND = st.sampled_from(["post"] * 12 + ["update"] * 6 + ["delete"] * 3 + ["clear"])
OP = st.tuples(
    KIND,
    st.integers(0, 1000),
    st.sampled_from(["k1", "k2", None]),
    st.integers(0, 30),
    PRESENT | PRESENT | st.none(),
    st.sampled_from("ab"),
)
OPS = st.lists(OP, min_size=10, max_size=40)
WINDOW = st.tuples(
    st.integers(0, 30),
    st.integers(0, 30),
    st.none() | VALUES,
    st.none() | VALUES,
    st.sampled_from([None, "a"]),
    st.sampled_from([None, "k1"]),
)
_names = itertools.count()


def engine_of(name: str, server: RedisServer) -> Engine:
    if name == "memory":
        return MemoryEngine()
    if name == "redis":
        return RedisEngine(server.url, namespace=f"random{next(_names)}")
    from mongomock_motor import AsyncMongoMockClient

    return MongoEngine("mongodb://mock", client=AsyncMongoMockClient())


async def apply(client: TestClient[Any, Any], ops: list[Any]) -> None:
    alive: list[str] = []
    for number, (kind, pick, key, second, value, type) in enumerate(ops):
        if kind == "clear":
            response = await client.delete("/events", params={"confirm": "true"})
            alive.clear()
        elif kind == "delete":
            if not alive:
                continue
            response = await client.delete(f"/events/{alive.pop(pick % len(alive))}")
        else:
            data = {"note": 1} if value is None else {"status": value[0], "other": value[0]}
            event = {"timestamp": format_us(BASE + second * US), "key": key, "type": type}
            event["data"] = data
            if kind == "update" and alive:
                response = await client.put(f"/events/{alive[pick % len(alive)]}", json=event)
            else:
                alive.append(f"e{number}")
                response = await client.post("/events", json=event | {"id": alive[-1]})
        assert response.status < 300, await response.text()


async def final_store(client: TestClient[Any, Any]) -> list[tuple[str, list[Point]]]:
    """Return each key's points of `status`, read back from the store's listing."""
    path = parse_path("status")
    lines: dict[str, list[Point]] = {}
    response = await client.get("/events", params={"limit": 1000})
    events = (await response.json())["events"]
    for place, event in enumerate(events):  # in (ts, seq) order: the place stands for seq
        value = path.read_data(event["data"])
        if event["key"] is None or "status" not in event["data"]:
            continue
        ts = parse_timestamp(event["timestamp"], None)
        point = Point(ts, place, canonical(value), event["id"], event["type"])
        lines.setdefault(event["key"], []).append(point)
    return list(lines.items())


async def scenario(engine: Engine, ops: list[Any], windows: list[Any]) -> None:
    app = create_app(make_config(), clock=FakeClock(), engine=engine)
    async with TestClient(TestServer(app)) as client:
        await apply(client, ops)
        lines = await final_store(client)
        for first, length, source, target, type, key in windows:
            params: dict[str, Any] = {
                "start": format_us(BASE + first * US),
                "end": format_us(BASE + (first + length) * US),
            }
            for name, given in (("from", source), ("to", target)):
                if given is not None:
                    params[name] = canonical(given)
            params |= {name: v for name, v in (("type", type), ("key", key)) if v is not None}
            window = Window(
                BASE + first * US,
                BASE + (first + length) * US,
                None if source is None else canonical(source),
                None if target is None else canonical(target),
                None if type is None else frozenset([type]),
                None if key is None else frozenset([key]),
            )
            expected = transitions_of(lines, window)
            for field in ("status", "other"):
                response = await client.get("/transitions", params={"field": field} | params)
                assert response.status == 200, await response.text()
                assert (await response.json())["transitions"] == expected, (field, params)


@pytest.mark.parametrize(
    ("name", "examples"),
    [
        pytest.param("memory", 60, marks=pytest.mark.memory, id="memory"),
        pytest.param("redis", 15, marks=pytest.mark.redis, id="redis"),
        pytest.param("mongo", 15, marks=pytest.mark.mongo, id="mongo-mock"),
    ],
)
def test_random_histories(name: str, examples: int, redis_server: RedisServer) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(OPS, st.lists(WINDOW, min_size=1, max_size=4))
    def check(ops: list[Any], windows: list[Any]) -> None:
        asyncio.run(scenario(engine_of(name, redis_server), ops, windows))

    try:
        check()
    finally:
        if name == "redis":
            with redis.Redis.from_url(redis_server.url) as client:
                client.flushdb()
