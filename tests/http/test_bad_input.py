"""Every bad input gets its documented 4xx in the one error shape, naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import MakeClient, make_config

NDJSON = {"Content-Type": "application/x-ndjson"}


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


DEEP = {"a": nested(33)}

# (case id, method, path, body (str = raw bytes to send), headers, status, field, index)
CASES: list[tuple[str, str, str, Any, dict[str, str] | None, int, str | None, int | None]] = [
    ("malformed json", "POST", "/events", '{"type": ', None, 400, None, None),
    ("empty body", "POST", "/events", "", None, 400, None, None),
    ("NaN literal", "POST", "/events", '{"value": NaN}', None, 400, None, None),
    ("top-level string", "POST", "/events", '"event"', None, 422, None, None),
    ("top-level number", "POST", "/events", "42", None, 422, None, None),
    ("unknown field", "POST", "/events", {"titel": "x"}, None, 422, "titel", None),
    ("value string", "POST", "/events", {"value": "12"}, None, 422, "value", None),
    ("value bool", "POST", "/events", {"value": True}, None, 422, "value", None),
    ("value 1e309", "POST", "/events", '{"value": 1e309}', None, 422, "value", None),
    ("value object", "POST", "/events", {"value": {"n": 1}}, None, 422, "value", None),
    (
        "timestamp garbage",
        "POST",
        "/events",
        {"timestamp": "yesterday"},
        None,
        422,
        "timestamp",
        None,
    ),
    ("timestamp bool", "POST", "/events", {"timestamp": True}, None, 422, "timestamp", None),
    ("timestamp null", "POST", "/events", {"timestamp": None}, None, 422, "timestamp", None),
    (
        "timestamp year 10000",
        "POST",
        "/events",
        {"timestamp": "10000-01-01T00:00:00Z"},
        None,
        422,
        "timestamp",
        None,
    ),
    (
        "timestamp epoch too big",
        "POST",
        "/events",
        {"timestamp": 1e12},
        None,
        422,
        "timestamp",
        None,
    ),
    ("timestamp epoch overflows", "POST", "/events", {"at": 1e303}, None, 422, "at", None),
    (
        "list start overflows",
        "GET",
        f"/events?start=1{'0' * 303}.5",
        None,
        None,
        400,
        "start",
        None,
    ),
    ("timestamp Feb 30", "POST", "/events", {"at": "2025-02-30T00:00:00Z"}, None, 422, "at", None),
    ("timestamp and alias", "POST", "/events", {"timestamp": 1, "at": 2}, None, 422, "at", None),
    ("type number", "POST", "/events", {"type": 5}, None, 422, "type", None),
    ("type empty", "POST", "/events", {"type": ""}, None, 422, "type", None),
    ("type null", "POST", "/events", {"type": None}, None, 422, "type", None),
    ("type too long", "POST", "/events", {"type": "t" * 129}, None, 422, "type", None),
    (
        "type and event_type",
        "POST",
        "/events",
        {"type": "a", "event_type": "b"},
        None,
        422,
        "event_type",
        None,
    ),
    ("key number", "POST", "/events", {"key": 7}, None, 422, "key", None),
    ("title too long", "POST", "/events", {"title": "x" * 4097}, None, 422, "title", None),
    ("description list", "POST", "/events", {"description": ["x"]}, None, 422, "description", None),
    ("data too deep", "POST", "/events", {"data": DEEP}, None, 422, "data", None),
    ("payload too big", "POST", "/events", {"payload": "x" * 70000}, None, 422, "payload", None),
    ("data and payload", "POST", "/events", {"data": 1, "payload": 2}, None, 422, "payload", None),
    ("remind not a list", "POST", "/events", {"remind": "5m"}, None, 422, "remind", None),
    ("remind bad unit", "POST", "/events", {"remind": ["5x"]}, None, 422, "remind[0]", None),
    ("remind zero", "POST", "/events", {"remind": ["5m", 0]}, None, 422, "remind[1]", None),
    ("remind too many", "POST", "/events", {"remind": ["1m"] * 17}, None, 422, "remind[16]", None),
    ("remind negative", "POST", "/events", {"remind": ["5m", -60]}, None, 422, "remind[1]", None),
    ("remind negative text", "POST", "/events", {"remind": ["-5m"]}, None, 422, "remind[0]", None),
    ("remind zero text", "POST", "/events", {"remind": ["1m", "0s"]}, None, 422, "remind[1]", None),
    (
        "remind over 366d",
        "POST",
        "/events",
        {"remind": ["1m", "367d"]},
        None,
        422,
        "remind[1]",
        None,
    ),
    (
        "remind over 366d s",
        "PATCH",
        "/events/x",
        {"remind": [31622401]},
        None,
        422,
        "remind[0]",
        None,
    ),
    (
        "remind a string",
        "PUT",
        "/events/x",
        {"timestamp": 1, "remind": "1h"},
        None,
        422,
        "remind",
        None,
    ),
    ("id number", "POST", "/events", {"id": 17}, None, 422, "id", None),
    ("id with slash", "POST", "/events", {"id": "a/b"}, None, 422, "id", None),
    ("id too long", "POST", "/events", {"id": "a" * 129}, None, 422, "id", None),
    ("batch item bad", "POST", "/events", [{}, {"key": 1}], None, 422, "key", 1),
    ("batch item not object", "POST", "/events", [{}, 3], None, 422, None, 1),
    ("batch semantic error", "POST", "/events", [{}, {}, {"type": ""}], None, 422, "type", 2),
    (
        "ndjson bad line",
        "POST",
        "/events",
        '{"type":"a"}\n{"value":"x"}\n',
        NDJSON,
        422,
        "value",
        1,
    ),
    ("ndjson malformed", "POST", "/events", '{"type":"a"}\n{oops\n', NDJSON, 400, None, None),
    ("put without timestamp", "PUT", "/events/a", {"type": "x"}, None, 422, "timestamp", None),
    ("put array", "PUT", "/events/a", [{"timestamp": 1}], None, 422, None, None),
    ("patch null type", "PATCH", "/events/a", {"type": None}, None, 422, "type", None),
    ("patch other id", "PATCH", "/events/a", {"id": "b"}, None, 422, "id", None),
    ("patch malformed", "PATCH", "/events/a", "{", None, 400, None, None),
    ("list unknown param", "GET", "/events?limt=5", None, None, 400, "limt", None),
    ("list limit zero", "GET", "/events?limit=0", None, None, 400, "limit", None),
    ("list limit too big", "GET", "/events?limit=1001", None, None, 400, "limit", None),
    ("list limit text", "GET", "/events?limit=ten", None, None, 400, "limit", None),
    ("list bad order", "GET", "/events?order=up", None, None, 400, "order", None),
    ("list bad start", "GET", "/events?start=soon", None, None, 400, "start", None),
    ("list start after end", "GET", "/events?start=10&end=5", None, None, 400, "start", None),
    ("list repeated type", "GET", "/events?type=a&type=b", None, None, 400, "type", None),
    ("list empty key", "GET", "/events?key=", None, None, 400, "key", None),
    ("list garbage cursor", "GET", "/events?cursor=abc", None, None, 400, "cursor", None),
    (
        "list forged cursor",
        "GET",
        "/events?cursor=WzEsMCwwLCJ4Il0AAAAAAAA",
        None,
        None,
        400,
        "cursor",
        None,
    ),
    ("clear unconfirmed", "DELETE", "/events?confirm=yes", None, None, 400, "confirm", None),
    ("unknown route", "GET", "/nowhere", None, None, 404, None, None),
    ("unknown event", "GET", "/events/nope", None, None, 404, "id", None),
    ("wrong method", "PUT", "/events", None, None, 405, None, None),
    ("wrong method on health", "POST", "/health", None, None, 405, None, None),
]


@pytest.fixture
async def seeded(client: TestClient[Any, Any]) -> TestClient[Any, Any]:
    response = await client.post("/events", json={"id": "a", "timestamp": 1})
    assert response.status == 201
    return client


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "field", "index"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
async def test_bad_input(
    seeded: TestClient[Any, Any],
    method: str,
    path: str,
    body: Any,
    headers: dict[str, str] | None,
    status: int,
    field: str | None,
    index: int | None,
) -> None:
    data = body if isinstance(body, str) else None if body is None else json.dumps(body)
    response = await seeded.request(method, path, data=data, headers=headers)
    text = await response.text()
    assert response.status == status, text
    assert response.content_type == "application/json"
    error = json.loads(text)["error"]
    assert error["status"] == status
    assert error["field"] == field, error
    assert error.get("index") == index, error
    assert error["message"] and "Traceback" not in text
    # Nothing bad was stored.
    listed = await (await seeded.get("/events")).json()
    assert [event["id"] for event in listed["events"]] == ["a"]


@pytest.mark.parametrize(
    ("body", "headers", "where"),
    [
        ('{"type": ', None, "the body ends (byte 8), line 1"),
        ('[{"type": "a"},\n{"type": ', None, "the body ends (byte 24), line 2"),
        ('{"type": "a"}\n{"type": \n\n', NDJSON, "the body ends (byte 22), line 2"),
    ],
    ids=["object", "array", "ndjson"],
)
async def test_truncated_body_says_where(
    client: TestClient[Any, Any], body: str, headers: dict[str, str] | None, where: str
) -> None:
    response = await client.post("/events", data=body, headers=headers)
    error = (await response.json())["error"]
    assert (response.status, error["code"]) == (400, "malformed_body")
    assert "truncated" in error["message"] and where in error["message"], error


async def test_cursor_of_other_filters_is_refused(client: TestClient[Any, Any]) -> None:
    await client.post("/events", json=[{"type": "a"}, {"type": "a"}, {"type": "b"}])
    page = await (await client.get("/events", params={"limit": 1, "type": "a"})).json()
    response = await client.get("/events", params={"cursor": page["next_cursor"], "type": "b"})
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "cursor"


async def test_body_over_the_limit_is_413(make_client: MakeClient) -> None:
    client = await make_client(make_config(limits={"max_body_bytes": 2048}))
    response = await client.post("/events", json={"title": "x" * 3000})
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "too_large"


async def test_batch_over_the_limit_is_413(make_client: MakeClient) -> None:
    client = await make_client(make_config(limits={"max_batch": 3}))
    response = await client.post("/events", json=[{}] * 4)
    assert response.status == 413
    assert "at most 3" in (await response.json())["error"]["message"]
    assert (await (await client.get("/events")).json())["events"] == []


def test_the_table_has_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
    assert len({case[0] for case in CASES}) == len(CASES)
