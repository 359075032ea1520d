"""GET /stats over real HTTP, with an injected clock, on every engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

from eventd.stats.keys import STATS
from eventd.store.base import Engine
from tests.conftest import NOW, FakeClock, MakeClient, make_config

Client = TestClient[Any, Any]
MIN = 60


def at(offset_seconds: float) -> float:
    return NOW / 1_000_000 + offset_seconds


async def settle(client: Client) -> None:
    """Wait until the hub has handed every stored change to the stats windows."""
    hub = client.app[STATS].hub
    head = (await hub.engine.read_changes(0, 1)).head
    for _ in range(200):
        if hub.position >= head:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the feed hub did not catch up")


async def get_stats(client: Client, **params: Any) -> Any:
    await settle(client)
    response = await client.get("/stats", params=params)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_windows_by_event_time(client: Client, clock: FakeClock) -> None:
    await client.post(
        "/events",
        json=[
            {"timestamp": at(-61 * MIN), "value": 1},
            {"timestamp": at(-59 * MIN), "value": 2},
            {"timestamp": at(-1 * MIN), "value": 3, "type": "x"},
            {"timestamp": at(86400), "value": 100},  # a day ahead: in no window yet
            {"timestamp": at(-1), "type": "no-value"},
        ],
    )
    body = await get_stats(client)
    windows = body["windows"]
    assert list(windows) == ["5m", "15m", "1h", "1d"]  # 24h is named 1d; ?window=24h works
    assert (windows["5m"]["count"], windows["1h"]["count"], windows["1d"]["count"]) == (1, 2, 3)
    assert windows["1h"]["sum"] == 5.0 and windows["1h"]["mean"] == 2.5
    assert windows["1h"]["percentiles"] == {"method": "exact", "relative_error": 0.0}
    assert (await get_stats(client, window="24h"))["window"] == "1d"
    one = await get_stats(client, window="1h", type="x")
    assert (one["window"], one["type"], one["count"], one["max"]) == ("1h", "x", 1, 3.0)
    clock.advance(86400)  # the future event's time comes; the others leave
    assert (await get_stats(client, window="5m"))["max"] == 100.0


async def test_updates_and_deletes_correct_the_windows(client: Client) -> None:
    await client.post("/events", json={"id": "a", "timestamp": at(-MIN), "value": 1})
    await client.post("/events", json={"id": "b", "timestamp": at(-MIN), "value": 7})
    await client.patch("/events/a", json={"value": 4})
    await client.delete("/events/b")
    hour = await get_stats(client, window="1h")
    assert (hour["count"], hour["sum"]) == (1, 4.0)
    await client.delete("/events", params={"confirm": "true"})
    assert (await get_stats(client, window="1h"))["count"] == 0


async def test_exact_range_from_the_store(client: Client) -> None:
    await client.post(
        "/events",
        json=[
            {"timestamp": at(-3600 * 48), "value": 1, "type": "a"},
            {"timestamp": at(-3600 * 47), "value": 2, "type": "b"},
            {"timestamp": at(-3600 * 46), "value": 4, "type": "a"},
        ],
    )
    body = await get_stats(client, start=at(-3600 * 48), end=at(-3600 * 46))
    assert (body["count"], body["sum"], body["min"], body["max"]) == (3, 7.0, 1.0, 4.0)
    typed = await get_stats(client, start=at(-3600 * 48), end=at(0), type="a")
    assert (typed["count"], typed["mean"], typed["p50"]) == (2, 2.5, 1.0)


async def test_bad_stats_parameters_are_400(client: Client) -> None:
    for params, field in (
        ({"window": "2h"}, "window"),
        ({"start": "0"}, "end"),
        ({"start": "10", "end": "5"}, "start"),
        ({"start": "0", "end": "5", "window": "1h"}, "window"),
        ({"bogus": "1"}, "bogus"),
        ({"type": ""}, "type"),
    ):
        response = await client.get("/stats", params=params)
        assert response.status == 400, params
        assert (await response.json())["error"]["field"] == field


async def test_windows_survive_a_restart(
    make_client: MakeClient, redis_engine: Engine, redis_twin: Callable[[], Engine]
) -> None:
    first = await make_client(engine=redis_engine)
    await first.post(
        "/events",
        json=[
            {"timestamp": at(-i * 97), "value": i * 1.5, "type": "t" if i % 2 else "u"}
            for i in range(300)
        ],
    )
    before = await get_stats(first)
    await first.close()
    second = await make_client(engine=redis_twin())
    assert await get_stats(second) == before
    assert before["windows"]["1d"]["count"] == 300


async def test_a_second_daemon_on_one_redis_gives_the_same_answer(
    make_client: MakeClient, redis_engine: Engine, redis_twin: Callable[[], Engine]
) -> None:
    a = await make_client(engine=redis_engine)
    b = await make_client(engine=redis_twin())
    await a.post("/events", json=[{"timestamp": at(-i), "value": i} for i in range(50)])
    await b.patch(
        "/events/" + (await (await a.get("/events?limit=1")).json())["events"][0]["id"],
        json={"value": 1000},
    )
    assert await get_stats(a) == await get_stats(b)


async def test_history_backfills_a_chart(client: Client, clock: FakeClock) -> None:
    await client.post("/events", json=[{"timestamp": at(-i * 60), "value": 1} for i in range(30)])
    await settle(client)
    response = await client.get(
        "/stats/history", params={"window": "5m", "step": "5m", "start": at(-1800), "end": at(0)}
    )
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["window"], body["step"]) == ("5m", "5m")
    counts = [point["count"] for point in body["points"]]
    assert counts == [0, 5, 5, 5, 5, 5, 5]  # 30 events a minute apart, 5 per window
    too_old = await client.get(
        "/stats/history", params={"window": "1h", "step": "1h", "start": at(-86400), "end": at(0)}
    )
    assert too_old.status == 400
    assert (await too_old.json())["error"]["field"] == "start"
    missing = await client.get("/stats/history", params={"window": "5m"})
    assert (await missing.json())["error"]["field"] == "step"


async def test_the_older_services_interface(client: Client, clock: FakeClock) -> None:
    empty = await (await client.get("/statistics")).json()
    assert empty == {"count": 0, "min": None, "max": None, "mean": None}
    sent = {"id": "first", "timestamp": at(-29.75), "value": 4}
    response = await client.post("/event", json=sent)
    assert response.status == 200
    stored = {
        "status": "success",
        "message": "Event stored successfully",
        "received_timestamp": "2025-06-01T11:59:30.250000+00:00",
    }
    assert await response.json() == stored
    again = await client.post("/event", json=sent)  # idempotent: the same answer
    assert (again.status, await again.json()) == (200, stored)
    await client.post("/event", json={"timestamp": at(-7200), "value": 100})
    missing = await client.post("/event", json={"timestamp": at(0)})
    assert missing.status == 422 and (await missing.json())["error"]["field"] == "value"
    null = await client.post("/event", json={"timestamp": at(0), "value": None})
    assert null.status == 422 and (await null.json())["error"]["field"] == "value"
    nan = await client.post("/event", data='{"timestamp": 0, "value": NaN}')
    assert nan.status == 400
    await settle(client)
    stats = await (await client.get("/statistics")).json()
    assert stats == {"count": 1, "min": 4.0, "max": 4.0, "mean": 4.0}
    await client.post("/events", json={"timestamp": at(60), "title": "future, no value"})
    clock.advance(0.5)
    debug = await (await client.get("/debug/events")).json()
    assert debug == {
        "current_time": "2025-06-01T12:00:00.500000+00:00",
        "cutoff_time": "2025-06-01T11:00:00.500000+00:00",
        "total_events": 3,
        "events": [
            {
                "timestamp": "2025-06-01T12:01:00.000000+00:00",
                "value": None,
                "is_recent": False,
                "age_minutes": -59.5 / 60,
            },
            {
                "timestamp": "2025-06-01T11:59:30.250000+00:00",
                "value": 4.0,
                "is_recent": True,
                "age_minutes": 30.25 / 60,
            },
            {
                "timestamp": "2025-06-01T10:00:00.000000+00:00",
                "value": 100.0,
                "is_recent": False,
                "age_minutes": 7200.5 / 60,
            },
        ],
    }
    limited = await (await client.get("/debug/events", params={"limit": 1})).json()
    assert (limited["total_events"], len(limited["events"])) == (3, 1)


async def test_debug_events_default_limit_keeps_to_the_page_size_limit(
    make_client: MakeClient,
) -> None:
    client = await make_client(make_config(limits={"max_page_size": 50, "default_page_size": 10}))
    response = await client.get("/debug/events")
    assert response.status == 400
    body = await response.json()
    assert body["error"]["field"] == "limit", body
    assert (await client.get("/debug/events", params={"limit": 50})).status == 200


async def test_a_burst_beyond_the_feed_history_resynchronises_the_windows(
    make_client: MakeClient,
) -> None:
    client = await make_client(make_config(feed={"history": 64}))
    ws = await client.ws_connect("/ws")
    await ws.receive_json()
    await ws.send_json({"type": "subscribe", "id": "s"})
    await ws.receive_json()
    await client.post("/events", json=[{"timestamp": at(-i), "value": 1} for i in range(500)])
    await settle(client)
    stats = client.app[STATS]
    for _ in range(200):  # bounded wait for the rebuild the gap started
        if stats._rebuilding is not None and stats._rebuilding.done():
            break
        await asyncio.sleep(0.01)
    assert (await get_stats(client, window="1h"))["count"] == 500
    # The subscriber could not get every change: it is told to resume, not left with a gap.
    for _ in range(600):
        message = await ws.receive(timeout=5)
        if message.type.name in ("CLOSE", "CLOSED"):
            break
    assert (message.data, message.extra) == (4008, "slow consumer; last position 0")


async def test_a_gap_during_a_rebuild_rebuilds_again(client: Client) -> None:
    stats = client.app[STATS]
    calls = []

    async def rebuild() -> None:
        calls.append(len(calls))
        if len(calls) == 1:
            stats._on_gap()  # changes lost while this scan ran: it may have missed them

    stats.rebuild = rebuild  # type: ignore[method-assign]
    stats._on_gap()
    assert stats._rebuilding is not None
    await asyncio.wait_for(stats._rebuilding, 5)
    assert calls == [0, 1]
