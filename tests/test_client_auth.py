"""eventd.client against a daemon with tokens: the token on every upgrade, refusals not retried."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from eventd.client import Forbidden, Refused, Subscriber, Unauthorized, bearer
from eventd.keys import SOCKETS
from tests.auth.tokens import SECRETS, locked_config
from tests.conftest import MakeClient
from tests.test_client import collect
from tests.waiting import wait_for

WRITE = bearer(SECRETS["write"])


async def test_a_token_is_sent_on_every_connection(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await make_client(locked_config())
    received: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        base = str(client.make_url("/"))
        subscriber = Subscriber(session, base, token=SECRETS["read"], first_delay=0.01)
        reading = asyncio.create_task(collect(subscriber, 4, received))
        await asyncio.wait_for(subscriber.connected.wait(), 5)
        await client.post("/events", json=[{"id": "a0"}, {"id": "a1"}], headers=WRITE)
        await wait_for(lambda: len(received) == 2, "the first two changes")
        for ws in list(client.app[SOCKETS]):  # a reconnection must present the token again
            await ws.close(code=1012, message=b"restart")
        await client.post("/events", json=[{"id": "b0"}, {"id": "b1"}], headers=WRITE)
        await asyncio.wait_for(reading, 10)
    assert [change["event"]["id"] for change in received] == ["a0", "a1", "b0", "b1"]
    assert subscriber.connections == 2
    assert "code 1012" in caplog.text  # the reconnection was logged, without the secret
    assert SECRETS["read"] not in caplog.text
    assert SECRETS["read"] not in repr(subscriber)


async def test_an_unknown_token_raises_unauthorized_at_once(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await make_client(locked_config())
    secret = "not-a-token-of-this-daemon"
    async with aiohttp.ClientSession() as session:
        subscriber = Subscriber(session, str(client.make_url("/")), token=secret)
        with pytest.raises(Unauthorized) as raised:
            await asyncio.wait_for(collect(subscriber, 1, []), 5)
    assert "4001" in str(raised.value)
    assert subscriber.connections == 1  # not retried: the same token would be refused again
    assert secret not in str(raised.value) and secret not in caplog.text


@pytest.mark.parametrize("token", [SECRETS["write"], None], ids=["write-only", "none"])
async def test_a_token_without_read_raises_forbidden(
    make_client: MakeClient, token: str | None
) -> None:
    client = await make_client(locked_config())
    async with aiohttp.ClientSession() as session:
        subscriber = Subscriber(session, str(client.make_url("/")), token=token)
        with pytest.raises(Forbidden, match=r"^forbidden: subscribing needs the read scope"):
            await asyncio.wait_for(collect(subscriber, 1, []), 5)
    assert subscriber.connections == 1


async def test_a_401_on_the_upgrade_raises_unauthorized(aiohttp_client: Any) -> None:
    # As a reverse proxy that checks tokens itself would answer.
    seen: list[str | None] = []

    async def refuse(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.Response(status=401, headers={"WWW-Authenticate": "Bearer"})

    app = web.Application()
    app.router.add_get("/ws", refuse)
    server = await aiohttp_client(app)
    async with aiohttp.ClientSession() as session:
        subscriber = Subscriber(session, str(server.make_url("/")), token="s3cret")
        with pytest.raises(Unauthorized, match="401") as raised:
            await asyncio.wait_for(collect(subscriber, 1, []), 5)
    assert seen == ["Bearer s3cret"]
    assert "s3cret" not in str(raised.value)


async def test_a_session_with_the_header_too_sends_it_once(make_client: MakeClient) -> None:
    # As docs/websocket.md shows: the session's header for HTTP, `token=` for the feed. Two
    # Authorization headers would be refused (4001).
    client = await make_client(locked_config())
    base = str(client.make_url("/"))
    async with aiohttp.ClientSession(headers=bearer(SECRETS["read"])) as session:
        subscriber = Subscriber(session, base, token=SECRETS["read"])
        reading = asyncio.create_task(collect(subscriber, 1, []))
        await asyncio.wait_for(subscriber.connected.wait(), 5)
        await client.post("/events", json={"id": "once"}, headers=WRITE)
        await asyncio.wait_for(reading, 5)


@pytest.mark.parametrize("token", ["", "two words", "line\nbreak", "caf\u00e9", "tab\there"])
def test_a_token_no_header_can_carry_is_refused_without_being_shown(token: str) -> None:
    with pytest.raises(ValueError, match=r"^token: must be printable ASCII") as raised:
        bearer(token)
    assert not token or token not in str(raised.value)


async def test_an_upgrade_the_daemon_cannot_read_raises_refused_at_once(
    make_client: MakeClient,
) -> None:
    # A token too long for a header: aiohttp answers 400, and would again on every retry.
    client = await make_client(locked_config())
    async with aiohttp.ClientSession() as session:
        subscriber = Subscriber(session, str(client.make_url("/")), token="a" * 9000)
        with pytest.raises(Refused, match=r"with 400 \(Bad Request\)") as raised:
            await asyncio.wait_for(collect(subscriber, 1, []), 5)
    assert raised.value.status == 400 and "aaaa" not in str(raised.value)


async def test_a_foreign_origin_raises_refused_at_once(make_client: MakeClient) -> None:
    client = await make_client(locked_config())
    async with aiohttp.ClientSession(headers={"Origin": "http://evil.example"}) as session:
        subscriber = Subscriber(session, str(client.make_url("/")), token=SECRETS["read"])
        with pytest.raises(Refused, match=r"with 403 \(Forbidden\)"):
            await asyncio.wait_for(collect(subscriber, 1, []), 5)


@pytest.mark.parametrize("status", [429, 503])
async def test_a_busy_server_is_asked_again(aiohttp_client: Any, status: int) -> None:
    asked: list[int] = []

    async def busy(request: web.Request) -> web.Response:
        asked.append(status)
        return web.Response(status=status, headers={"Retry-After": "1"})

    app = web.Application()
    app.router.add_get("/ws", busy)
    server = await aiohttp_client(app)
    async with aiohttp.ClientSession() as session:
        subscriber = Subscriber(session, str(server.make_url("/")), first_delay=0.001)
        reading = asyncio.create_task(collect(subscriber, 1, []))
        await wait_for(lambda: len(asked) >= 3, "three attempts")
        assert not reading.done()
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
