"""Statistics reflect every write this daemon acknowledged before the request came."""

from __future__ import annotations

import json
from typing import Any

from aiohttp.test_utils import TestClient

from eventd.keys import HUB, WORKER
from tests.conftest import MakeClient, make_config
from tests.stats.test_routes import at, settle

Client = TestClient[Any, Any]
NDJSON = {"Content-Type": "application/x-ndjson"}
COUNT = 5000


async def import_ndjson(client: Client, count: int = COUNT) -> None:
    """Import `count` events of value 1 spread over the last 250 seconds."""
    lines = "\n".join(json.dumps({"timestamp": at(-i * 0.05), "value": 1}) for i in range(count))
    response = await client.post("/events", data=lines, headers=NDJSON)
    assert response.status == 201, await response.text()


async def get_json(client: Client, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_an_import_is_in_the_window_asked_for_right_after(client: Client) -> None:
    await import_ndjson(client)
    assert (await get_json(client, "/stats", window="5m"))["count"] == COUNT


async def test_an_import_is_in_every_window_right_after(client: Client) -> None:
    await import_ndjson(client)
    windows = (await get_json(client, "/stats"))["windows"]
    assert {name: window["count"] for name, window in windows.items()} == {
        "5m": COUNT,
        "15m": COUNT,
        "1h": COUNT,
        "1d": COUNT,
    }


async def test_an_import_is_in_the_older_statistics_right_after(client: Client) -> None:
    await import_ndjson(client)
    assert (await get_json(client, "/statistics"))["count"] == COUNT


async def test_the_debug_listing_reads_the_store_not_the_windows(
    make_client: MakeClient,
) -> None:
    # /debug/events lists the store itself (README), so it holds an import even while the
    # windows hear of no change and /statistics cannot answer.
    client = await make_client(make_config(stats={"catch_up_timeout": 0.05}))
    await client.app[HUB].stop()
    await import_ndjson(client)
    assert (await client.get("/statistics")).status == 503
    debug = await get_json(client, "/debug/events")
    assert debug["total_events"] == COUNT
    assert len(debug["events"]) == 100
    assert all(event["is_recent"] for event in debug["events"])


async def test_an_import_is_in_the_history_right_after(client: Client) -> None:
    await import_ndjson(client)
    history = await get_json(
        client, "/stats/history", window="5m", step="5m", start=at(0), end=at(0)
    )
    assert history["points"][-1]["count"] == COUNT


async def test_an_import_is_in_the_first_stats_message_right_after(client: Client) -> None:
    await import_ndjson(client)
    ws = await client.ws_connect("/ws")
    assert (await ws.receive_json())["type"] == "welcome"
    await ws.send_json({"type": "subscribe", "id": "s", "channels": ["stats"]})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
    pushed = await ws.receive_json(timeout=5)
    assert pushed["windows"]["5m"]["count"] == COUNT
    await ws.close()


async def test_changes_and_a_clear_are_read_right_after(client: Client) -> None:
    await client.post("/events", json={"id": "a", "timestamp": at(-1), "value": 1})
    assert (await get_json(client, "/stats", window="5m"))["sum"] == 1.0
    await client.patch("/events/a", json={"value": 5})
    assert (await get_json(client, "/stats", window="5m"))["sum"] == 5.0
    await client.delete("/events/a")
    assert (await get_json(client, "/stats", window="5m"))["count"] == 0
    await import_ndjson(client, 10)
    await client.delete("/events", params={"confirm": "true"})
    assert (await get_json(client, "/statistics"))["count"] == 0


async def test_current_windows_answer_without_asking_the_store(client: Client) -> None:
    await import_ndjson(client, 10)
    await settle(client)

    async def no_store_call(command: object) -> object:
        raise AssertionError(f"the store was asked: {command!r}")

    client.app[WORKER].call = no_store_call  # type: ignore[method-assign]
    assert (await get_json(client, "/stats"))["windows"]["5m"]["count"] == 10
    assert (await get_json(client, "/stats", window="1h"))["count"] == 10
    assert (await get_json(client, "/statistics"))["count"] == 10


async def test_windows_that_do_not_catch_up_in_time_answer_503(make_client: MakeClient) -> None:
    client = await make_client(make_config(stats={"catch_up_timeout": 0.05}))
    await client.app[HUB].stop()  # the windows hear of no change any more
    await import_ndjson(client, 10)
    for path in ("/stats", "/statistics"):
        response = await client.get(path)
        assert response.status == 503, await response.text()
        assert response.headers["Retry-After"] == "1"
        assert (await response.json())["error"]["code"] == "unavailable"
    # Exact range statistics read the store itself: they need no window.
    body = await get_json(client, "/stats", start=at(-3600), end=at(0))
    assert body["count"] == 10


async def test_a_stats_subscription_gets_the_windows_when_they_do_not_catch_up(
    make_client: MakeClient,
) -> None:
    client = await make_client(make_config(stats={"catch_up_timeout": 0.05}))
    await client.app[HUB].stop()
    await import_ndjson(client, 10)
    ws = await client.ws_connect("/ws")
    assert (await ws.receive_json())["type"] == "welcome"
    await ws.send_json({"type": "subscribe", "id": "s", "channels": ["stats"]})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
    pushed = await ws.receive_json(timeout=5)  # as they stand; the socket stays open
    assert pushed["windows"]["5m"]["count"] == 0
    await ws.send_json({"type": "ping", "id": 1})
    assert await ws.receive_json(timeout=5) == {"type": "pong", "id": 1}
    await ws.close()
