"""Rate limits on a running app: 429 with Retry-After per token and per address, the exempt
routes, the WebSocket message bucket, the 429 counter of /metrics, and live changes."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from eventd.http.openapi import document
from eventd.limits.middleware import EXEMPT
from eventd.ratelimit import RATE_LIMITS
from eventd.ws.protocol import CLOSE_RATE_LIMITED
from tests.auth.tokens import SECRETS, bearer, locked_config
from tests.conftest import FakeClock, MakeClient, make_config
from tests.metrics.test_metrics import scrape, value
from tests.ws.test_websocket import connect, receive

Client = TestClient[Any, Any]
TRACKER = {"rate": "1/5s", "burst": 10}  # the older tracker's limit


async def statuses(client: Client, count: int, **kwargs: Any) -> list[int]:
    return [(await client.get("/events", **kwargs)).status for _ in range(count)]


async def assert_limited(response: aiohttp.ClientResponse, seconds: int) -> None:
    assert response.status == 429
    assert response.headers["Retry-After"] == str(seconds)
    assert await response.json() == {
        "error": {
            "status": 429,
            "code": "rate_limited",
            "message": f"Too many requests, retry in {seconds}s",
            "field": None,
        }
    }


async def test_the_older_trackers_limit_is_reproduced(
    make_client: MakeClient, clock: FakeClock
) -> None:
    client = await make_client(make_config(limits=TRACKER))
    assert await statuses(client, 10) == [200] * 10
    await assert_limited(await client.get("/events"), 5)
    clock.advance(2)
    await assert_limited(await client.post("/events", json={}), 3)
    clock.advance(3)
    assert await statuses(client, 1) == [200]
    await assert_limited(await client.get("/events"), 5)
    clock.advance(5)
    assert (await client.post("/events", json={"id": "e"})).status == 201
    await assert_limited(await client.get("/events/e"), 5)
    clock.advance(50)  # full again: a burst of 10, no more
    assert await statuses(client, 11) == [200] * 10 + [429]


async def test_limits_are_off_by_default(make_client: MakeClient) -> None:
    client = await make_client()
    assert client.app is not None
    names = [getattr(m, "__name__", "") for m in client.app.middlewares]
    assert "rate_limit" not in names  # nothing to pay per request
    assert await statuses(client, 50) == [200] * 50


async def test_the_limiter_sits_inside_errors_and_metrics_after_the_origin_check(
    make_client: MakeClient,
) -> None:
    client = await make_client(make_config(limits=TRACKER))
    assert client.app is not None
    names = [getattr(m, "__name__", "") for m in client.app.middlewares]
    assert names[:5] == ["count_requests", "errors", "check_origin", "rate_limit", "check_scope"]


async def test_each_token_has_its_own_bucket(make_client: MakeClient) -> None:
    client = await make_client(locked_config(limits={"rate": "1/m", "burst": 2}))
    read = bearer(SECRETS["read"])
    assert await statuses(client, 3, headers=read) == [200, 200, 429]
    response = await client.post("/events", json={}, headers=bearer(SECRETS["write"]))
    assert response.status == 201
    # Requests without a token (refused 401 here) count against the address, not a token.
    assert await statuses(client, 3) == [401, 401, 429]
    assert await statuses(client, 1, headers=bearer(SECRETS["admin"])) == [403]


async def test_each_address_has_its_own_bucket_and_forwarded_for_is_ignored(
    make_client: MakeClient,
) -> None:
    client = await make_client(make_config(limits={"rate": "1/m", "burst": 2}))
    spoof = {"X-Forwarded-For": "203.0.113.9", "X-Real-IP": "203.0.113.9"}
    assert await statuses(client, 3, headers=spoof) == [200, 200, 429]
    # Another loopback address as the peer: a bucket of its own.
    connector = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
    async with aiohttp.ClientSession(connector=connector) as other:
        codes = [(await other.get(client.make_url("/events"))).status for _ in range(3)]
    assert codes == [200, 200, 429]
    assert await statuses(client, 1) == [429]


async def test_health_metrics_and_the_dashboard_are_not_limited(make_client: MakeClient) -> None:
    client = await make_client(make_config(limits={"rate": "1/m", "burst": 1}))
    for path in ("/health", "/metrics", "/", "/dashboard/app.js"):
        assert [(await client.get(path)).status for _ in range(5)] == [200] * 5, path
    assert await statuses(client, 2) == [200, 429]
    assert (await client.get("/health")).status == 200


async def test_unknown_paths_and_the_websocket_handshake_are_limited(
    make_client: MakeClient,
) -> None:
    client = await make_client(make_config(limits={"rate": "1/m", "burst": 2}))
    assert (await client.get("/no/such/path")).status == 404
    ws = await connect(client)
    await ws.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect("/ws")
    assert caught.value.status == 429


async def test_429s_are_counted_in_metrics(make_client: MakeClient) -> None:
    client = await make_client(make_config(limits={"rate": "1/m", "burst": 1}))
    assert await statuses(client, 4) == [200, 429, 429, 429]
    samples = await scrape(client)
    assert value(samples, "eventd_http_rate_limited_total", route="/events") == 3
    labels = {"route": "/events", "method": "GET", "status": "429"}
    assert value(samples, "eventd_http_requests_total", **labels) == 3


async def test_a_429_carries_cors_headers_for_an_allowed_origin(make_client: MakeClient) -> None:
    origin = "http://dash.example"
    config = make_config(limits={"rate": "1/m", "burst": 1}, http={"cors_origins": origin})
    client = await make_client(config)
    preflight = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    assert (await client.options("/events", headers=preflight)).status == 204  # no token spent
    assert await statuses(client, 2, headers={"Origin": origin}) == [200, 429]
    response = await client.get("/events", headers={"Origin": origin})
    assert response.headers["Access-Control-Allow-Origin"] == origin


async def test_a_reload_changes_the_rate_of_a_running_app(make_client: MakeClient) -> None:
    client = await make_client(make_config(limits={"rate": "1/m", "burst": 1}))
    assert client.app is not None
    limits = client.app[RATE_LIMITS]
    assert await statuses(client, 2) == [200, 429]
    assert limits.configure(make_config(limits={"rate": "1/m", "burst": 3})) == []
    assert await statuses(client, 3) == [200, 200, 429]
    assert limits.configure(make_config()) == []  # off: the installed middleware passes
    assert await statuses(client, 5) == [200] * 5


async def pings(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict[str, Any]]:
    for n in range(count):
        await ws.send_json({"type": "ping", "id": n})
    return [await receive(ws) for _ in range(count)]


async def test_websocket_messages_over_their_bucket_get_an_error_then_a_close(
    make_client: MakeClient, clock: FakeClock
) -> None:
    limits = {"ws_rate": "1/10s", "ws_burst": 2, "ws_strikes": 3}
    client = await make_client(make_config(limits=limits))
    ws = await connect(client)
    assert [m["type"] for m in await pings(ws, 2)] == ["pong", "pong"]
    refused = await pings(ws, 2)
    assert (
        refused
        == [
            {
                "type": "error",
                "code": "rate_limited",
                "message": "Too many requests, retry in 10s",
                "id": None,
            }
        ]
        * 2
    )
    clock.advance(10)  # one token back: it passes, and the refusals in a row start again
    assert [m["type"] for m in await pings(ws, 3)] == ["pong", "error", "error"]
    await ws.send_json({"type": "ping"})  # the third refusal in a row
    closing = await ws.receive(timeout=5)
    assert closing.type == aiohttp.WSMsgType.CLOSE
    assert ws.close_code == CLOSE_RATE_LIMITED
    assert closing.extra == "rate limited: 3 messages refused"


async def test_websocket_messages_are_not_limited_by_default(make_client: MakeClient) -> None:
    client = await make_client()
    ws = await connect(client)
    assert {m["type"] for m in await pings(ws, 200)} == {"pong"}


async def test_the_document_says_429_exactly_where_limits_apply(make_client: MakeClient) -> None:
    client = await make_client()
    assert client.app is not None
    paths = document()["paths"]
    for route in client.app.router.routes():
        if route.resource is None or route.method == "HEAD":
            continue
        path = route.resource.canonical
        operation = paths[path][route.method.lower()]
        assert ("429" in operation["responses"]) is (path not in EXEMPT), (route.method, path)
