"""WebSocket auth: the Authorization header, a first `auth` message, the handshake timeout,
4001 for bad tokens, `forbidden` for subscriptions without the read scope."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from eventd.ws.protocol import CLOSE_UNAUTHORIZED
from tests.auth.tokens import SECRETS, bearer, locked_config
from tests.conftest import MakeClient
from tests.ws.test_websocket import WS, changes, connect, receive, subscribe

Client = TestClient[Any, Any]


@pytest.fixture
async def locked(make_client: MakeClient) -> Client:
    return await make_client(locked_config())


async def closed_with(ws: WS) -> tuple[int | None, str]:
    message = await ws.receive(timeout=5)
    assert message.type == aiohttp.WSMsgType.CLOSE, message
    return ws.close_code, message.extra


async def welcomed(client: Client, headers: dict[str, str] | None = None) -> WS:
    ws = await client.ws_connect("/ws", headers=headers or {})
    assert (await receive(ws))["type"] == "welcome"
    return ws


async def test_a_token_in_the_header(locked: Client) -> None:
    ws = await welcomed(locked, bearer(SECRETS["read"]))
    await subscribe(ws)
    response = await locked.post("/events", json={"id": "e"}, headers=bearer(SECRETS["write"]))
    assert response.status == 201
    [change] = await changes(ws, 1)
    assert change["event"]["id"] == "e"


async def test_a_bad_token_in_the_header_closes_with_4001(locked: Client) -> None:
    ws = await locked.ws_connect("/ws", headers=bearer("wrong"))
    assert await closed_with(ws) == (CLOSE_UNAUTHORIZED, "the token is not known")


async def test_a_first_auth_message(locked: Client) -> None:
    ws = await welcomed(locked)
    await ws.send_json({"type": "subscribe", "id": "early"})
    refused = await receive(ws)
    assert (refused["type"], refused["code"], refused["id"]) == ("error", "forbidden", "early")
    await ws.send_json({"type": "auth", "token": SECRETS["read"]})
    assert await receive(ws) == {"type": "auth_ok", "name": "only-read", "scopes": ["read"]}
    await subscribe(ws)
    await locked.post("/events", json={"id": "e"}, headers=bearer(SECRETS["write"]))
    [change] = await changes(ws, 1)
    assert change["event"]["id"] == "e"


async def test_a_bad_auth_message_closes_with_4001(locked: Client) -> None:
    ws = await welcomed(locked)
    await ws.send_json({"type": "auth", "token": "wrong"})
    assert await closed_with(ws) == (CLOSE_UNAUTHORIZED, "the token is not known")


async def test_a_token_without_read_cannot_subscribe(locked: Client) -> None:
    ws = await welcomed(locked, bearer(SECRETS["write"]))
    await ws.send_json({"type": "subscribe", "id": "s"})
    refused = await receive(ws)
    assert (refused["type"], refused["code"]) == ("error", "forbidden")


SHORT = {"handshake_timeout": 0.05}


async def test_no_auth_message_in_time_closes_with_4001(make_client: MakeClient) -> None:
    client = await make_client(locked_config(SHORT))
    ws = await welcomed(client)
    # No sleep: the close frame is what the test waits for, whenever the deadline passes.
    assert await closed_with(ws) == (CLOSE_UNAUTHORIZED, "no auth message within 0.05 s")


async def test_an_auth_message_in_time_keeps_the_socket(make_client: MakeClient) -> None:
    client = await make_client(locked_config(SHORT))
    ws = await welcomed(client)
    await ws.send_json({"type": "auth", "token": SECRETS["read"]})
    assert (await receive(ws))["type"] == "auth_ok"
    await subscribe(ws)
    # A socket opened later, silent, is closed once its deadline passes: by then the first
    # one's deadline has passed too, and it still serves.
    late = await welcomed(client)
    assert (await closed_with(late))[0] == CLOSE_UNAUTHORIZED
    await client.post("/events", json={"id": "e"}, headers=bearer(SECRETS["write"]))
    [change] = await changes(ws, 1)
    assert change["event"]["id"] == "e"


async def test_without_tokens_nothing_changes_for_clients(make_client: MakeClient) -> None:
    client = await make_client()
    ws = await connect(client)
    await subscribe(ws)
    await client.post("/events", json={"id": "e"})
    [change] = await changes(ws, 1)
    assert change["event"]["id"] == "e"


async def test_anonymous_read_needs_no_auth_message(make_client: MakeClient) -> None:
    client = await make_client(locked_config({"anonymous": ["read"], **SHORT}))
    ws = await connect(client)
    await subscribe(ws)
    await client.post("/events", json={"id": "e"}, headers=bearer(SECRETS["write"]))
    [change] = await changes(ws, 1)
    assert change["event"]["id"] == "e"
