"""Every route's scope, table-driven over the router: each token on each route, and no route
without a declared scope."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import hdrs, web
from aiohttp.test_utils import TestClient

from eventd.app import create_app
from eventd.auth.scopes import OPEN, ROUTE_SCOPES, SELF, route_scope, undeclared
from eventd.config import SCOPES
from eventd.http.openapi import document
from tests.auth.tokens import SECRETS, bearer, locked_config
from tests.conftest import MakeClient

# Values for the routes' placeholders: any will do, the answer is judged by its auth only.
PLACEHOLDERS = {"id": "some-id", "key": "some-key", "asset": "app.js"}


def routes(app: web.Application) -> list[tuple[str, str]]:
    """Return (method, a concrete path) for every route, with its scope."""
    found = []
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        names = [p.split(":")[0] for p in resource.canonical.split("{")[1:]]
        names = [name.split("}")[0] for name in names]
        path = str(resource.url_for(**{name: PLACEHOLDERS[name] for name in names}))
        found.append((route.method, path))
    return found


def scope_table(app: web.Application) -> list[tuple[str, str, str]]:
    return [
        (method, path, route_scope(route) or "undeclared")
        for route, (method, path) in zip(app.router.routes(), routes(app), strict=True)
    ]


@pytest.fixture
async def locked(make_client: MakeClient) -> TestClient[Any, Any]:
    return await make_client(locked_config())


async def call(
    client: TestClient[Any, Any], method: str, path: str, headers: dict[str, str]
) -> tuple[int, Any]:
    body = b'{"type": "t", "timestamp": "2025-01-01T00:00:00Z", "value": 1}'
    data = body if method in (hdrs.METH_POST, hdrs.METH_PUT, hdrs.METH_PATCH) else None
    async with client.request(method, path, data=data, headers=headers) as response:
        payload = await response.read()
        return response.status, payload and response.content_type == "application/json"


async def test_every_scope_on_every_route(locked: TestClient[Any, Any]) -> None:
    table = scope_table(locked.server.app)
    assert table, "the router has routes"
    checked = 0
    for method, path, scope in table:
        if scope == SELF:
            continue  # the WebSocket authenticates itself: tests/auth/test_ws_auth.py
        status, _ = await call(locked, method, path, {})
        if scope == OPEN:
            assert status not in (401, 403), (method, path, status)
            continue
        assert status == 401, (method, path, "without a token", status)
        status, _ = await call(locked, method, path, bearer("no such token"))
        assert status == 401, (method, path, "unknown token", status)
        for held, secret in SECRETS.items():
            status, _ = await call(locked, method, path, bearer(secret))
            if held == scope:
                assert status not in (401, 403), (method, path, held, status)
            else:
                assert status == 403, (method, path, held, status)
            checked += 1
    assert checked >= 4 * 20


async def test_401_and_403_answers(locked: TestClient[Any, Any]) -> None:
    response = await locked.get("/events")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error = (await response.json())["error"]
    assert (error["code"], error["field"]) == ("unauthorized", "Authorization")
    response = await locked.get("/events", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert response.status == 401
    assert (await response.json())["error"]["message"] == "the token in Authorization is not known"
    response = await locked.delete("/events?confirm=true", headers=bearer(SECRETS["write"]))
    assert response.status == 403
    error = (await response.json())["error"]
    assert error["code"] == "forbidden"
    assert "only-write" in error["message"] and "admin" in error["message"]
    response = await locked.get("/events", headers={"authorization": f"bearer {SECRETS['read']}"})
    assert response.status == 200  # the scheme's case does not matter (RFC 7235)


async def test_every_declared_route_exists(locked: TestClient[Any, Any]) -> None:
    served = {(method, path) for method, path, _ in _canonical(locked.server.app)}
    assert set(ROUTE_SCOPES) - served == set(), "stale entries in ROUTE_SCOPES"
    assert set(ROUTE_SCOPES.values()) <= {OPEN, SELF, *SCOPES}


def _canonical(app: web.Application) -> list[tuple[str, str, str]]:
    out = []
    for route in app.router.routes():
        assert route.resource is not None
        out.append((route.method, route.resource.canonical, route_scope(route) or "undeclared"))
    return out


async def test_a_route_without_a_scope_stops_the_start() -> None:
    app = create_app(locked_config())

    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_post("/undeclared", handler)
    assert undeclared(app.router) == ["POST /undeclared"]
    runner = web.AppRunner(app)
    try:
        with pytest.raises(RuntimeError, match="POST /undeclared"):
            await runner.setup()
    finally:
        await runner.cleanup()


def test_openapi_names_each_operations_scope() -> None:
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            scope = ROUTE_SCOPES[(method.upper(), path)]
            if scope in (OPEN, SELF):
                assert operation["security"] == [{}], (method, path)
            else:
                assert operation["security"] == [{"bearer": [scope]}, {}], (method, path)
                assert "401" in operation["responses"], (method, path)


async def test_without_tokens_a_loopback_daemon_serves_every_scope(
    make_client: MakeClient,
) -> None:
    client = await make_client()  # the default: 127.0.0.1, no token
    for method, path, _scope in scope_table(client.server.app):
        status, _ = await call(client, method, path, {})
        assert status not in (401, 403), (method, path, status)


def expected_scope(method: str, path: str) -> str:
    """The rules of the scopes (README, Access), written independently of the table."""
    if path in ("/health", "/", "/dashboard/{asset}"):
        return OPEN
    if path == "/ws":
        return SELF
    if path.startswith("/debug/") or (method == "DELETE" and path in ("/events", "/events/")):
        return "admin"
    if path == "/metrics":
        return "metrics"
    return "read" if method == "GET" else "write"


def test_the_table_follows_the_rules_of_the_scopes() -> None:
    for (method, path), scope in ROUTE_SCOPES.items():
        assert scope == expected_scope(method, path), (method, path)
