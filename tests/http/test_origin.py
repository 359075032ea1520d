"""Cross-origin requests: foreign pages are refused, listed origins get CORS answers."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from eventd.config import ConfigError, load
from eventd.keys import SOCKETS
from eventd.origins import parse_hosts, parse_origins
from tests.conftest import MakeClient, make_config
from tests.daemon import Daemon

EVIL = "http://evil.example"
DASH = "https://dash.example"
UPGRADE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version": "13",
}
# Origin values a hostile or broken client may send; none is the daemon's own or listed.
HOSTILE_ORIGINS = [
    EVIL,
    "null",
    "NULL",
    "",
    "*",
    "http://",
    "http://[::1",
    "http://127.0.0.1:99999",
    "http://127.0.0.1:-1",
    "javascript:alert(1)",
    "file://",
    "http://user@127.0.0.1",
    "http://127.0.0.1/path",
    "http://127.0.0.1?q=1",
    "http://ä.example",
    "http://xn--.example",
    "https://dash.example.evil.example",
    "https://dash.example, http://evil.example",
    "x" * 4000,
]


def own(client: TestClient[Any, Any]) -> str:
    return f"http://{client.host}:{client.port}"


async def stored(client: TestClient[Any, Any]) -> list[Any]:
    response = await client.get("/events")
    assert response.status == 200
    events: list[Any] = (await response.json())["events"]
    return events


async def assert_forbidden(response: aiohttp.ClientResponse) -> None:
    assert response.status == 403
    if response.method != "HEAD":
        body = await response.json()
        assert body["error"]["code"] == "forbidden_origin"
        assert body["error"]["field"] == "Origin"
        assert body["error"]["status"] == 403
    assert "Access-Control-Allow-Origin" not in response.headers


# --- foreign origins -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b'{"type": "csrf"}'),
        ("application/json", b'{"type": "csrf"}'),
        ("application/x-www-form-urlencoded", b"type=csrf"),
        ("application/x-ndjson", b'{"type": "csrf"}\n'),
    ],
)
@pytest.mark.parametrize("path", ["/events", "/event"])
async def test_foreign_origin_cannot_write(
    make_client: MakeClient, content_type: str, body: bytes, path: str
) -> None:
    client = await make_client()
    headers = {"Origin": EVIL, "Content-Type": content_type}
    response = await client.post(path, data=body, headers=headers)
    await assert_forbidden(response)
    assert await stored(client) == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/events"),
        ("HEAD", "/events"),
        ("DELETE", "/events?confirm=yes"),
        ("GET", "/events/x"),
        ("PUT", "/events/x"),
        ("PATCH", "/events/x"),
        ("DELETE", "/events/x"),
        ("GET", "/health"),
        ("GET", "/stats"),
        ("GET", "/statistics"),
        ("GET", "/debug/events"),
        ("GET", "/nosuch"),
        ("OPTIONS", "/events"),
        ("TRACE", "/events"),
    ],
)
async def test_foreign_origin_is_refused_on_every_method(
    make_client: MakeClient, method: str, path: str
) -> None:
    client = await make_client()
    created = await client.post("/events", json={"id": "x", "type": "kept"})
    assert created.status == 201
    headers = {"Origin": EVIL, "Access-Control-Request-Method": "POST"}
    response = await client.request(method, path, headers=headers, json={"type": "changed"})
    await assert_forbidden(response)
    [event] = await stored(client)
    assert event["type"] == "kept"


async def test_foreign_origin_websocket_handshake_is_refused_before_the_upgrade(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    assert (await client.post("/events", json={"type": "secret"})).status == 201
    response = await client.get("/ws", headers=UPGRADE | {"Origin": EVIL})
    await assert_forbidden(response)
    assert "Upgrade" not in response.headers
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", origin=EVIL)
    assert refused.value.status == 403
    assert client.app is not None and client.app[SOCKETS] == set()


@pytest.mark.parametrize("origin", HOSTILE_ORIGINS)
async def test_hostile_origin_values_are_refused_never_a_5xx(
    make_client: MakeClient, origin: str
) -> None:
    client = await make_client(make_config(http={"cors_origins": [DASH]}))
    response = await client.post("/events", json={}, headers={"Origin": origin})
    await assert_forbidden(response)
    response = await client.get("/ws", headers=UPGRADE | {"Origin": origin})
    await assert_forbidden(response)
    assert await stored(client) == []


async def test_two_origin_headers_are_refused(make_client: MakeClient) -> None:
    client = await make_client()
    headers = [("Origin", own(client)), ("Origin", EVIL)]
    response = await client.post("/events", json={}, headers=headers)
    await assert_forbidden(response)


@pytest.mark.parametrize(
    "origin",
    [
        "https://{host}:{port}",  # another scheme
        "http://{host}:1",  # another port
        "http://{host}",  # the default port, 80
        "http://localhost:{port}",  # another name for the same address
    ],
)
async def test_near_misses_of_the_own_origin_are_foreign(
    make_client: MakeClient, origin: str
) -> None:
    client = await make_client()
    origin = origin.format(host=client.host, port=client.port)
    response = await client.post("/events", json={}, headers={"Origin": origin})
    await assert_forbidden(response)


# --- the daemon's own origin and requests without one ----------------------------------------


async def test_own_origin_works_over_http_and_websocket(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post("/events", json={"type": "mine"}, headers={"Origin": own(client)})
    assert response.status == 201
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["Vary"] == "Origin"
    ws = await client.ws_connect("/ws", origin=own(client))
    assert (await ws.receive_json())["type"] == "welcome"
    await ws.close()


@pytest.mark.parametrize(
    "host",
    [
        "localhost:{port}",
        "LOCALHOST:{port}",
        "localhost",
        "app.localhost:{port}",
        "127.0.0.1:{port}",
        "127.1.2.3:{port}",
        "[::1]:{port}",
        "[0:0::1]:{port}",
    ],
)
async def test_own_origin_is_read_from_a_loopback_host_header(
    make_client: MakeClient, host: str
) -> None:
    client = await make_client()
    host = host.format(port=client.port)
    headers = {"Host": host, "Origin": f"http://{host.upper()}"}
    response = await client.post("/events", json={}, headers=headers)
    assert response.status == 201
    ws = await client.ws_connect("/ws", headers=headers)
    assert (await ws.receive_json())["type"] == "welcome"
    await ws.close()


async def test_requests_without_origin_are_unaffected(make_client: MakeClient) -> None:
    client = await make_client()
    response = await client.post("/events", data=b'{"type": "curl"}')
    assert response.status == 201
    assert "Vary" not in response.headers
    assert "Access-Control-Allow-Origin" not in response.headers
    ws = await client.ws_connect("/ws")
    assert (await ws.receive_json())["type"] == "welcome"
    await ws.close()


# --- the Host header (DNS rebinding) ----------------------------------------------------------


async def assert_forbidden_host(response: aiohttp.ClientResponse) -> None:
    assert response.status == 403
    body = await response.json()
    assert body["error"]["code"] == "forbidden_host"
    assert body["error"]["field"] == "Host"
    assert "Upgrade" not in response.headers


def rebinding(client: TestClient[Any, Any], name: str = "evil.example") -> dict[str, str]:
    """Return the headers of a page at `name` whose DNS name now points at the daemon."""
    return {"Host": f"{name}:{client.port}", "Origin": f"http://{name}:{client.port}"}


async def test_rebinding_page_cannot_write_read_or_open_the_websocket(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    assert (await client.post("/events", json={"type": "secret"})).status == 201
    headers = rebinding(client) | {"Content-Type": "text/plain"}
    await assert_forbidden_host(await client.post("/events", data=b"{}", headers=headers))
    # A same-origin GET carries no Origin: only the Host check keeps the page from reading.
    only_host = {"Host": headers["Host"]}
    await assert_forbidden_host(await client.get("/events", headers=only_host))
    await assert_forbidden_host(await client.get("/ws", headers=UPGRADE | rebinding(client)))
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", headers=rebinding(client))
    assert refused.value.status == 403
    assert client.app is not None and client.app[SOCKETS] == set()
    assert [e["type"] for e in await stored(client)] == ["secret"]


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "127.0.0.1.evil.example",
        "localhost.evil.example",
        "10.0.0.1",
        "0.0.0.0",
        "[::2]",
        "[::ffff:7f00:1]",
        "localhost.",
        "[]@",
        "x@127.0.0.1",
        "127.0.0.1/x",
        "127.0.0.1:99999",
        "",
    ],
)
async def test_non_loopback_hosts_are_refused_on_a_loopback_bind(
    make_client: MakeClient, host: str
) -> None:
    client = await make_client()
    await assert_forbidden_host(await client.get("/health", headers={"Host": host}))


async def test_two_host_headers_are_refused(make_client: MakeClient) -> None:
    client = await make_client()
    headers = [("Host", f"127.0.0.1:{client.port}"), ("Host", "evil.example")]
    await assert_forbidden_host(await client.get("/health", headers=headers))


async def raw_status(client: TestClient[Any, Any], request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(client.host, client.port)
    try:
        writer.write(request)
        return await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()


async def test_a_request_without_host_passes_but_has_no_own_origin(
    make_client: MakeClient,
) -> None:
    client = await make_client()
    answer = await raw_status(client, b"GET /health HTTP/1.0\r\n\r\n")
    assert answer.startswith(b"HTTP/1.0 200 "), answer[:100]
    origin = f"Origin: http://127.0.0.1:{client.port}\r\n".encode()
    answer = await raw_status(client, b"GET /health HTTP/1.0\r\n" + origin + b"\r\n")
    assert answer.startswith(b"HTTP/1.0 403 "), answer[:100]
    assert b'"forbidden_origin"' in answer


async def test_a_listed_host_is_served(make_client: MakeClient) -> None:
    client = await make_client(make_config(http={"allowed_hosts": ["eventd.example", "[::2]"]}))
    for name in ("eventd.example", "EVENTD.example", "[::2]"):
        response = await client.post("/events", json={}, headers=rebinding(client, name))
        assert response.status == 201, name
    ws = await client.ws_connect("/ws", headers=rebinding(client, "eventd.example"))
    assert (await ws.receive_json())["type"] == "welcome"
    await ws.close()
    # Loopback names still work; other names do not.
    response = await client.post("/events", json={}, headers=rebinding(client, "localhost"))
    assert response.status == 201
    response = await client.post("/events", json={}, headers=rebinding(client, "evil.example"))
    await assert_forbidden_host(response)


async def test_a_listed_host_does_not_make_its_origin_listed(make_client: MakeClient) -> None:
    client = await make_client(make_config(http={"allowed_hosts": ["eventd.example"]}))
    headers = {"Host": f"eventd.example:{client.port}", "Origin": EVIL}
    await assert_forbidden(await client.post("/events", json={}, headers=headers))


ANYONE_WRITES = {"anonymous": ["read", "write"]}


async def test_any_host_on_a_non_loopback_bind(make_client: MakeClient) -> None:
    # The test server listens on loopback either way; the setting decides the checks.
    # Protected mode: such a bind serves without a token only the scopes granted explicitly.
    client = await make_client(make_config(server={"host": "0.0.0.0"}, auth=ANYONE_WRITES))
    response = await client.post("/events", json={}, headers=rebinding(client, "eventd.example"))
    assert response.status == 201
    headers = {"Host": f"eventd.example:{client.port}", "Origin": EVIL}
    await assert_forbidden(await client.post("/events", json={}, headers=headers))


async def test_listed_hosts_are_checked_on_a_non_loopback_bind(make_client: MakeClient) -> None:
    config = make_config(
        server={"host": "0.0.0.0"}, http={"allowed_hosts": "eventd.example"}, auth=ANYONE_WRITES
    )
    client = await make_client(config)
    response = await client.post("/events", json={}, headers=rebinding(client, "eventd.example"))
    assert response.status == 201
    response = await client.post("/events", json={}, headers=rebinding(client))
    await assert_forbidden_host(response)


@pytest.mark.parametrize(
    ("bind", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.9.9.9", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.0.2.1", False),
        ("eventd.example", False),
    ],
)
async def test_the_bind_address_decides_the_host_check(
    make_client: MakeClient, bind: str, loopback: bool
) -> None:
    client = await make_client(make_config(server={"host": bind}))
    response = await client.get("/health", headers={"Host": "evil.example"})
    assert response.status == (403 if loopback else 200)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://[]@"},
        {"Origin": "http://x", "Host": "[]@"},
        {"Origin": "http://[]@", "Host": "[]@"},
    ],
)
@pytest.mark.parametrize("bind", ["127.0.0.1", "0.0.0.0"])
async def test_malformed_origin_or_host_is_a_403_not_a_500(
    make_client: MakeClient, headers: dict[str, str], bind: str
) -> None:
    client = await make_client(make_config(server={"host": bind}))
    response = await client.get("/health", headers=headers)
    assert response.status == 403
    assert response.content_type == "application/json"
    assert (await response.json())["error"]["field"] in ("Host", "Origin")


# --- listed origins ----------------------------------------------------------------------------


async def listed_client(make_client: MakeClient, *origins: str) -> TestClient[Any, Any]:
    return await make_client(make_config(http={"cors_origins": list(origins) or [DASH]}))


async def test_listed_origin_gets_cors_headers_on_answers(make_client: MakeClient) -> None:
    client = await listed_client(make_client)
    response = await client.post("/events", json={"id": "d"}, headers={"Origin": DASH})
    assert response.status == 201
    assert response.headers["Access-Control-Allow-Origin"] == DASH
    assert response.headers["Vary"] == "Origin"
    assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    # Errors are readable by the page too.
    response = await client.get("/events/nosuch", headers={"Origin": DASH})
    assert response.status == 404
    assert response.headers["Access-Control-Allow-Origin"] == DASH
    # Answers to requests without Origin say that they vary with it (shared caches).
    response = await client.get("/events")
    assert response.headers["Vary"] == "Origin"
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_listed_origin_preflight(make_client: MakeClient) -> None:
    client = await listed_client(make_client)
    headers = {
        "Origin": DASH,
        "Access-Control-Request-Method": "PATCH",
        "Access-Control-Request-Headers": "content-type,authorization",
    }
    response = await client.options("/events/some-id", headers=headers)
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == DASH
    methods = {m.strip() for m in response.headers["Access-Control-Allow-Methods"].split(",")}
    assert {"GET", "PUT", "PATCH", "DELETE"} <= methods
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert "content-type" in allowed and "authorization" in allowed
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert response.headers["Vary"] == "Origin"
    # Then the request itself.
    response = await client.patch("/events/some-id", json={"type": "t"}, headers={"Origin": DASH})
    assert response.status == 404
    assert response.headers["Access-Control-Allow-Origin"] == DASH


async def test_preflight_of_an_unknown_route_is_a_404_not_a_500(make_client: MakeClient) -> None:
    client = await listed_client(make_client)
    headers = {"Origin": DASH, "Access-Control-Request-Method": "POST"}
    response = await client.options("/nosuch/route", headers=headers)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


async def test_options_that_is_not_a_preflight_is_a_405(make_client: MakeClient) -> None:
    client = await listed_client(make_client)
    response = await client.options("/events", headers={"Origin": DASH})
    assert response.status == 405
    assert response.headers["Access-Control-Allow-Origin"] == DASH


async def test_listed_origin_opens_the_websocket(make_client: MakeClient) -> None:
    client = await listed_client(make_client)
    ws = await client.ws_connect("/ws", origin=DASH)
    assert (await ws.receive_json())["type"] == "welcome"
    await ws.close()


@pytest.mark.parametrize(
    ("listed", "origin"),
    [
        ("HTTPS://Dash.Example/", DASH),
        ("https://dash.example:443", DASH),
        ("https://dash.example", "https://dash.example:443"),
        ("http://[::1]:3000", "http://[::1]:3000"),
        ("null", "null"),
    ],
)
async def test_listed_origins_compare_as_origins(
    make_client: MakeClient, listed: str, origin: str
) -> None:
    client = await listed_client(make_client, "http://other.example", listed)
    response = await client.post("/events", json={}, headers={"Origin": origin})
    assert response.status == 201
    assert response.headers["Access-Control-Allow-Origin"] == origin


async def test_a_listed_origin_does_not_admit_others(make_client: MakeClient) -> None:
    client = await listed_client(make_client)
    for origin in ("http://dash.example", "https://dash.example:8443", "null"):
        response = await client.post("/events", json={}, headers={"Origin": origin})
        await assert_forbidden(response)
    assert await stored(client) == []


# --- the setting -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        ["https://dash.example", "http://127.0.0.1:3000"],
        "https://dash.example, http://127.0.0.1:3000",
        "https://dash.example,http://127.0.0.1:3000,",
    ],
)
def test_cors_origins_is_a_list_or_a_comma_separated_string(value: Any) -> None:
    config = make_config(http={"cors_origins": value})
    assert parse_origins(config.http.cors_origins) == {
        ("https", "dash.example", 443),
        ("http", "127.0.0.1", 3000),
    }


def test_cors_origins_defaults_to_none() -> None:
    assert load().http.cors_origins == ""


def test_cors_origins_from_the_environment() -> None:
    env = {"EVENTD_HTTP_CORS_ORIGINS": "https://a.example,https://b.example"}
    assert load(env=env).http.cors_origins == "https://a.example,https://b.example"


@pytest.mark.parametrize(
    "bad",
    [
        "*",
        "dash.example",
        "https://dash.example/app",
        "https://dash.example?x=1",
        "https://user@dash.example",
        "https://dash.example:99999",
        ["https://dash.example", 3],
    ],
)
def test_a_bad_cors_origin_stops_start_up_naming_the_key(bad: Any) -> None:
    with pytest.raises(ConfigError) as exc_info:
        load(overrides={"http.cors_origins": bad})
    text = str(exc_info.value)
    assert text.startswith("http.cors_origins:") and "\n" not in text, text


@pytest.mark.parametrize(
    "value",
    [
        ["eventd.example", "192.0.2.1", "[2001:db8::1]"],
        "eventd.example, 192.0.2.1,[2001:db8::1],",
    ],
)
def test_allowed_hosts_is_a_list_or_a_comma_separated_string(value: Any) -> None:
    config = make_config(http={"allowed_hosts": value})
    assert parse_hosts(config.http.allowed_hosts) == {"eventd.example", "192.0.2.1", "2001:db8::1"}


def test_allowed_hosts_defaults_to_none() -> None:
    assert load().http.allowed_hosts == ""


@pytest.mark.parametrize(
    "bad",
    ["*", "*.example", "eventd.example:8080", "http://eventd.example", "::1", "a b", "[]@"],
)
def test_a_bad_allowed_host_stops_start_up_naming_the_key(bad: Any) -> None:
    with pytest.raises(ConfigError) as exc_info:
        load(overrides={"http.allowed_hosts": bad})
    text = str(exc_info.value)
    assert text.startswith("http.allowed_hosts:") and "\n" not in text, text


@pytest.mark.parametrize("bad", ["http://[]@", "http://[]@:1", "http://\u200b"])
def test_a_malformed_cors_origin_is_a_config_error_not_a_crash(bad: str) -> None:
    with pytest.raises(ConfigError) as exc_info:
        load(overrides={"http.cors_origins": [bad]})
    text = str(exc_info.value)
    assert text.startswith("http.cors_origins:") and "\n" not in text, text


def test_check_config_names_a_malformed_cors_origin(tmp_path: Path) -> None:
    path = tmp_path / "eventd.toml"
    path.write_text('[http]\ncors_origins = ["http://[]@"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTD_")}
    result = subprocess.run(
        [sys.executable, "-m", "eventd", "check-config", str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "http.cors_origins" in line and "http://[]@" in line, line


# --- a real daemon -----------------------------------------------------------------------------


@pytest.mark.slow
async def test_daemon_reads_cors_origins_from_the_environment(tmp_path: Path) -> None:
    async with (
        Daemon(tmp_path, EVENTD_HTTP_CORS_ORIGINS=DASH) as daemon,
        aiohttp.ClientSession() as session,
    ):
        url = f"{daemon.base}/events"
        async with session.post(url, data=b"{}", headers={"Origin": DASH}) as response:
            assert response.status == 201
            assert response.headers["Access-Control-Allow-Origin"] == DASH
        async with session.post(url, data=b"{}", headers={"Origin": EVIL}) as response:
            await assert_forbidden(response)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"{daemon.base}/ws", origin=EVIL)
        assert refused.value.status == 403
        async with session.ws_connect(f"{daemon.base}/ws", origin=DASH) as ws:
            assert (await ws.receive_json())["type"] == "welcome"
        async with session.get(url) as response:
            assert len((await response.json())["events"]) == 1
        rebound = {
            "Host": f"evil.example:{daemon.port}",
            "Origin": f"http://evil.example:{daemon.port}",
        }
        async with session.post(url, data=b"{}", headers=rebound) as response:
            assert response.status == 403
            assert (await response.json())["error"]["code"] == "forbidden_host"
