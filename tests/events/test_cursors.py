"""Listing cursors are signed with the store's own secret; anything else is a 400."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from aiohttp.test_utils import TestClient

from eventd.events.cursor import fingerprint
from eventd.events.keys import EVENTS
from eventd.store.base import Engine, Query
from eventd.times import MAX_US, MIN_US
from tests.conftest import MakeClient

Client = TestClient[Any, Any]
ALL = fingerprint(Query())


def signed_with_the_old_source_key(body: Any) -> str:
    """Sign `body` as eventd did before cursors had a per-store secret."""
    raw = msgspec.json.encode(body)
    check = hashlib.blake2b(raw, key=b"eventd.cursor.v1", digest_size=6).digest()
    return base64.urlsafe_b64encode(raw + check).rstrip(b"=").decode()


def signed(raw: bytes, secret: bytes) -> str:
    """Sign `raw` as a cursor with the store's secret."""
    check = hmac.digest(secret, raw, "blake2b")[:16]
    return base64.urlsafe_b64encode(raw + check).rstrip(b"=").decode()


async def seed(client: Client, count: int = 5) -> list[str]:
    events = [{"id": f"e{i}", "timestamp": 1_700_000_000 + i} for i in range(count)]
    assert (await client.post("/events", json=events)).status == 201
    return [event["id"] for event in events]


async def walk(first: Client, then: Client, limit: int = 2) -> list[str]:
    """List every event in pages, the first page from `first`, the others from `then`."""
    body = await (await first.get("/events", params={"limit": limit})).json()
    seen = [event["id"] for event in body["events"]]
    for _ in range(100):  # bounded: a cursor that does not advance fails
        if body["next_cursor"] is None:
            return seen
        response = await then.get("/events", params={"limit": limit, "cursor": body["next_cursor"]})
        assert response.status == 200, await response.text()
        body = await response.json()
        seen += [event["id"] for event in body["events"]]
    raise AssertionError("the cursor did not advance")


async def assert_refused(client: Client, token: str) -> None:
    response = await client.get("/events", params={"cursor": token})
    text = await response.text()
    assert response.status == 400, text
    error = (await response.json())["error"]
    assert (error["code"], error["field"]) == ("bad_parameter", "cursor")


async def test_pages_follow_the_signed_cursors(client: Client) -> None:
    ids = await seed(client)
    assert await walk(client, client) == ids


async def test_a_cursor_forged_with_the_old_source_key_is_refused(client: Client) -> None:
    await seed(client)
    await assert_refused(client, signed_with_the_old_source_key([1, 1_700_000_000_000_000, 1, ALL]))
    await assert_refused(client, signed_with_the_old_source_key([1, "x", 1, ALL]))
    await assert_refused(client, signed_with_the_old_source_key({"a": 1}))


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'[2,"x",1,"' + ALL.encode() + b'"]', id="text-time"),
        pytest.param(b'[2,1.5,1,"' + ALL.encode() + b'"]', id="float-time"),
        pytest.param(b'[2,1,null,"' + ALL.encode() + b'"]', id="null-seq"),
        pytest.param(b'[2,1,1,"' + ALL.encode() + b'",5]', id="five-members"),
        pytest.param(b"[2]", id="one-member"),
        pytest.param(b'{"a":1}', id="object"),
        pytest.param(b'"cursor"', id="string"),
        pytest.param(b"\xff\xfe[", id="not-json"),
        pytest.param(b"", id="empty"),
        pytest.param(b"[2,1" + b"0" * 5000 + b',1,"' + ALL.encode() + b'"]', id="5000-digits"),
        pytest.param(f'[2,{MAX_US + 1},1,"{ALL}"]'.encode(), id="after-year-9999"),
        pytest.param(f'[2,{MIN_US - 1},1,"{ALL}"]'.encode(), id="before-year-1"),
        pytest.param(f'[2,0,-1,"{ALL}"]'.encode(), id="negative-seq"),
        pytest.param(f'[2,0,{2**64},"{ALL}"]'.encode(), id="seq-past-64-bits"),
        pytest.param(f'[1,0,1,"{ALL}"]'.encode(), id="other-version"),
        pytest.param(b'[2,0,1,"other"]', id="other-filters"),
    ],
)
async def test_a_signed_cursor_with_bad_contents_is_400(client: Client, raw: bytes) -> None:
    await seed(client)
    secret = await client.app[EVENTS].cursor_secret()
    await assert_refused(client, signed(raw, secret))


async def test_garbage_cursors_are_400(client: Client) -> None:
    await seed(client)
    for token in ("", "abc", "====", "é", "A" * 2000, "WzEsMCwwLCJ4Il0AAAAAAAA"):
        await assert_refused(client, token)


async def test_two_daemons_on_one_redis_accept_each_others_cursors(
    make_client: MakeClient, redis_engine: Engine, redis_twin: Callable[[], Engine]
) -> None:
    a = await make_client(engine=redis_engine)
    b = await make_client(engine=redis_twin())
    ids = await seed(a, 7)
    assert await walk(a, b) == ids
    assert await walk(b, a) == ids
    assert await a.app[EVENTS].cursor_secret() == await b.app[EVENTS].cursor_secret()


async def test_a_cursor_of_another_store_is_refused(make_client: MakeClient) -> None:
    a, b = await make_client(), await make_client()
    await seed(a)
    await seed(b)
    body = await (await a.get("/events", params={"limit": 2})).json()
    await assert_refused(b, body["next_cursor"])


async def test_prev_cursor_pages_back_with_the_other_order(client: Client) -> None:
    ids = await seed(client, 7)
    params: dict[str, Any] = {"limit": 2, "order": "desc"}
    first = await (await client.get("/events", params=params)).json()
    second = await (
        await client.get("/events", params=params | {"cursor": first["next_cursor"]})
    ).json()
    assert [event["id"] for event in second["events"]] == [ids[4], ids[3]]

    back = await client.get("/events", params={"limit": 2, "cursor": second["prev_cursor"]})
    assert back.status == 200, await back.text()
    body = await back.json()
    assert [event["id"] for event in body["events"]] == [ids[5], ids[6]]
    assert body["next_cursor"] is None
    assert body["prev_cursor"] is not None


async def test_an_empty_page_has_no_prev_cursor(client: Client) -> None:
    body = await (await client.get("/events", params={"type": "none"})).json()
    assert body == {"events": [], "next_cursor": None, "prev_cursor": None}
