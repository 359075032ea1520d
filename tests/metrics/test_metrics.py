"""GET /metrics scraped from a real app on every engine and parsed as Prometheus reads it."""

from __future__ import annotations

import asyncio
import random
import re
import string
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from eventd.app import create_app
from eventd.keys import HUB, SOCKETS, WORKER
from eventd.metrics.keys import REGISTRY
from eventd.reminders.keys import REMINDERS
from eventd.store.redis.engine import RedisEngine
from tests.conftest import FakeClock, MakeClient, make_config
from tests.http.test_failures import FaultyEngine
from tests.redis_server import RedisServer
from tests.reminders.test_service import at
from tests.waiting import wait_for
from tests.ws.test_websocket import connect, post, receive, subscribe

Client = TestClient[Any, Any]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: Client) -> Samples:
    """Return every sample of /metrics by (name, labels)."""
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(await response.text())
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """Return one sample's value; 0 for a labelled series not made yet."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def label_values(samples: Samples, name: str, label: str) -> set[str]:
    return {dict(labels)[label] for (sample, labels), _ in samples.items() if sample == name}


REQUESTS = "eventd_http_requests_total"
DOCS = Path(__file__).parents[2] / "docs" / "metrics.md"


async def test_a_post_moves_the_counter_of_its_route_method_and_status(client: Client) -> None:
    before = await scrape(client)
    await post(client, {"type": "t"})
    assert (await client.post("/events", json={"value": "x"})).status == 422
    after = await scrape(client)
    created = {"route": "/events", "method": "POST", "status": "201"}
    refused = created | {"status": "422"}
    assert value(after, REQUESTS, **created) == value(before, REQUESTS, **created) + 1
    assert value(after, REQUESTS, **refused) == value(before, REQUESTS, **refused) + 1
    timed = value(
        after, "eventd_http_request_duration_seconds_count", route="/events", method="POST"
    )
    assert timed == 2
    # The scrape before this one was counted as it was answered.
    assert value(after, REQUESTS, route="/metrics", method="GET", status="200") >= 1


async def test_hostile_paths_and_methods_make_no_new_label_values(client: Client) -> None:
    await client.get("/events/nope")
    await client.request("PROPFIND", "/events")
    first = await scrape(client)
    for _ in range(20):
        word = "".join(random.choices(string.ascii_letters, k=12))
        assert (await client.get(f"/events/{word}")).status == 404
        assert (await client.get(f"/nope/{word}/{word}")).status == 404
        assert (await client.delete(f"/events/{word}")).status == 404
        assert (await client.request("PROPFIND", f"/{word}")).status in (404, 405)
    after = await scrape(client)
    routes = label_values(after, REQUESTS, "route")
    assert routes == label_values(first, REQUESTS, "route") | {"unmatched", "/metrics"}
    assert {"/events/{id}", "unmatched"} <= routes
    assert not any("nope" in route for route in routes)
    assert label_values(after, REQUESTS, "method") == {"GET", "DELETE", "other"}
    assert value(after, REQUESTS, route="unmatched", method="GET", status="404") == 20
    assert value(after, REQUESTS, route="/events/{id}", method="GET", status="404") == 21


async def test_a_websocket_subscriber_shows_in_the_feed_and_channel_metrics(
    client: Client,
) -> None:
    idle = await scrape(client)
    assert value(idle, "eventd_ws_subscribers", channel="events") == 0
    assert value(idle, "eventd_ws_connections") == 0
    ws = await connect(client)
    start = (await subscribe(ws, "both", channels=["events", "reminders"]))["position"]
    await subscribe(ws, "stats", channels=["stats"])
    listening = await scrape(client)
    assert value(listening, "eventd_ws_connections") == 1
    assert value(listening, REQUESTS, route="/ws", method="GET", status="101") == 1
    assert value(listening, "eventd_ws_subscribers", channel="events") == 1
    assert value(listening, "eventd_ws_subscribers", channel="reminders") == 1
    assert value(listening, "eventd_ws_subscribers", channel="stats") == 1
    assert value(listening, "eventd_ws_subscribers", channel="transitions") == 0
    sent = value(listening, "eventd_ws_messages_sent_total")
    assert sent >= 3  # welcome, subscribed twice (and perhaps a stats snapshot)
    await post(client, {"id": "a"})
    while (message := await receive(ws))["type"] != "change":
        pass  # stats updates
    assert message["position"] == start + 1
    after = await scrape(client)
    assert value(after, "eventd_feed_position") == client.app[HUB].position >= start + 1
    assert value(after, "eventd_feed_lag_changes") == 0
    assert value(after, "eventd_ws_messages_sent_total") >= sent + 1
    assert value(after, "eventd_store_queue_depth") == 0
    await ws.close()
    await wait_for(lambda: not client.app[SOCKETS], "the socket closed")
    closed = await scrape(client)
    assert value(closed, "eventd_ws_connections") == 0
    assert value(closed, "eventd_ws_subscribers", channel="events") == 0
    assert value(closed, "eventd_ws_subscribers", channel="stats") == 0


async def test_reminders_fired_late_and_missed_are_counted(
    client: Client, clock: FakeClock
) -> None:
    service = client.app[REMINDERS]
    await post(client, {"id": "soon", "timestamp": at(10), "remind": ["5m"]})
    await post(client, {"id": "later", "timestamp": at(90), "remind": ["1h"]})
    await post(client, {"id": "gone", "timestamp": at(7), "remind": ["1m"]})
    clock.advance(5 * 60)
    assert len(await service.fire_due()) == 1  # "soon", on time
    first = await scrape(client)
    assert value(first, "eventd_reminders_fired_total") == 1
    assert value(first, "eventd_reminders_late_total") == 0
    assert value(first, "eventd_reminders_missed_total") == 0
    clock.advance(26 * 60)  # "gone" has started; "later" fell due a minute ago
    assert len(await service.fire_due()) == 2
    after = await scrape(client)
    assert value(after, "eventd_reminders_fired_total") == 2
    assert value(after, "eventd_reminders_late_total") == 1
    assert value(after, "eventd_reminders_missed_total") == 1


async def test_the_store_queue_depth_is_read_when_scraped(make_client: MakeClient) -> None:
    engine = FaultyEngine()
    client = await make_client(engine=engine)
    engine.gate.clear()
    held = [asyncio.create_task(client.get("/events"))]
    await wait_for(lambda: engine.held == 1, "a query held in the engine")
    held += [asyncio.create_task(client.get("/events")) for _ in range(2)]
    worker = client.app[WORKER]
    await wait_for(lambda: worker.backlog == 2, "two queries queued behind it")
    samples = await scrape(client)
    assert value(samples, "eventd_store_queue_depth") == 2  # behind the held one
    engine.gate.set()
    for task in held:
        assert (await task).status == 200
    samples = await scrape(client)
    assert value(samples, "eventd_store_queue_depth") == 0
    assert value(samples, "eventd_store_batch_commands_count") >= 1
    assert value(samples, "eventd_store_batch_commands_bucket", le="+Inf") == value(
        samples, "eventd_store_batch_commands_count"
    )


@pytest.mark.redis
async def test_a_stopped_redis_moves_the_engine_error_counter(
    make_client: MakeClient, own_redis: RedisServer
) -> None:
    engine = RedisEngine(own_redis.url, namespace="metrics", timeout=1.0)
    client = await make_client(engine=engine)
    before = await scrape(client)
    assert value(before, "eventd_store_engine_info", engine="redis") == 1
    own_redis.stop(kill=True)
    assert (await client.get("/events")).status == 503
    after = await scrape(client)
    failed = value(after, "eventd_store_engine_errors_total") + value(
        after, "eventd_store_engine_timeouts_total"
    )
    assert value(after, "eventd_store_engine_errors_total") >= 1, after
    assert failed > value(before, "eventd_store_engine_errors_total")
    assert value(after, REQUESTS, route="/events", method="GET", status="503") == 1


async def test_statistics_rebuilds_are_counted(client: Client) -> None:
    samples = await scrape(client)
    # The rebuild at start-up.
    assert value(samples, "eventd_projection_rebuilds_total", projection="stats") == 1


async def test_each_app_counts_in_its_own_registry(make_client: MakeClient) -> None:
    one, two = await make_client(), await make_client()
    await post(one, {})
    ones, twos = await scrape(one), await scrape(two)
    created = {"route": "/events", "method": "POST", "status": "201"}
    assert value(ones, REQUESTS, **created) == 1
    assert value(twos, REQUESTS, **created) == 0


async def test_metrics_can_be_turned_off(make_client: MakeClient) -> None:
    client = await make_client(make_config(metrics={"enabled": False}))
    response = await client.get("/metrics")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_metrics_takes_no_query_parameters(client: Client) -> None:
    response = await client.get("/metrics", params={"name[]": "x"})
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "name[]"


def test_docs_list_every_metric_of_eventd() -> None:
    documented = set(re.findall(r"^\| `(eventd_\w+)` \|", DOCS.read_text(), flags=re.M))
    app = create_app(make_config())
    suffixes = {"counter": "_total", "info": "_info"}  # the samples' names in the text
    exposed = {
        family.name + suffixes.get(family.type, "")
        for family in app[REGISTRY].collect()
        if family.name.startswith("eventd_")
    }
    assert documented == exposed
