"""Hostile input: invalid UTF-8, deep JSON, huge numbers. Always a 4xx, nothing stored."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import MakeClient

NDJSON = {"Content-Type": "application/x-ndjson"}

# Byte sequences that are not UTF-8: plain garbage, a lone surrogate written as UTF-8
# bytes, an overlong form of "/", a code point past U+10FFFF, and a truncated sequence.
BAD_BYTES = {
    "ff-fe": b"\xff\xfe",
    "surrogate": b"\xed\xa0\x80",
    "overlong": b"\xc0\xaf",
    "past-10ffff": b"\xf4\x90\x80\x80",
    "truncated": b"\xe2\x82",
}
# Where the bytes go: the template's X is replaced by them.
PLACES = {
    "data": b'{"data": "X"}',
    "data-key": b'{"data": {"X": 1}}',
    "type": b'{"type": "X"}',
    "title": b'{"title": "X"}',
    "id": b'{"id": "X"}',
    "field-name": b'{"X": 1}',
}
# How the event is sent: method, path, body from one event object, headers.
ROUTES: dict[str, tuple[str, str, Any, dict[str, str] | None]] = {
    "post": ("POST", "/events", lambda one: one, None),
    "post-array": ("POST", "/events", lambda one: b"[{}, " + one + b"]", None),
    "post-ndjson": ("POST", "/events", lambda one: b"{}\n" + one + b"\n", NDJSON),
    "put": ("PUT", "/events/a", lambda one: one[:-1] + b', "timestamp": 2}', None),
    "patch": ("PATCH", "/events/a", lambda one: one, None),
    "legacy": ("POST", "/event", lambda one: one[:-1] + b', "timestamp": 2, "value": 1}', None),
}


@pytest.fixture
async def seeded(make_client: MakeClient) -> TestClient[Any, Any]:
    client = await make_client()
    response = await client.post("/events", json={"id": "a", "timestamp": 1, "data": {"k": 1}})
    assert response.status == 201
    return client


async def answer(client: TestClient[Any, Any], method: str, path: str, **kw: Any) -> Any:
    """Send one request; check the error shape; return the error object."""
    if isinstance(kw.get("data"), bytes) and len(kw["data"]) > 1 << 16:
        kw["data"] = io.BytesIO(kw["data"])  # aiohttp warns of large bytes bodies
    response = await client.request(method, path, **kw)
    raw = await response.read()
    assert response.status < 500, raw
    assert response.content_type == "application/json"
    error = json.loads(raw.decode("utf-8"))["error"]
    assert error["status"] == response.status and error["message"], error
    return error


async def assert_unchanged(client: TestClient[Any, Any]) -> None:
    """Only the seeded event is stored, as it was, and the listing is valid UTF-8."""
    response = await client.get("/events")
    listed = json.loads((await response.read()).decode("utf-8"))["events"]
    assert [(e["id"], e["data"]) for e in listed] == [("a", {"k": 1})]


@pytest.mark.parametrize("bad", BAD_BYTES.values(), ids=BAD_BYTES.keys())
@pytest.mark.parametrize("place", PLACES.values(), ids=PLACES.keys())
@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
async def test_invalid_utf8_is_a_malformed_body(
    seeded: TestClient[Any, Any], route: Any, place: bytes, bad: bytes
) -> None:
    method, path, wrap, headers = route
    body = wrap(place.replace(b"X", b"ok" + bad + b"ok"))
    error = await answer(seeded, method, path, data=body, headers=headers)
    assert (error["status"], error["code"]) == (400, "malformed_body"), error
    assert "UTF-8" in error["message"]
    await assert_unchanged(seeded)


async def test_invalid_utf8_message_gives_the_line(seeded: TestClient[Any, Any]) -> None:
    body = b'{"type": "a"}\n{"type": "b"}\n{"data": "\xff"}\n'
    error = await answer(seeded, "POST", "/events", data=body, headers=NDJSON)
    assert "line 3" in error["message"], error


async def test_invalid_utf8_poisons_no_engine(client: TestClient[Any, Any]) -> None:
    for body in (b'{"data": "\xff\xfe"}', b'{"data": {"\xed\xa0\x80": 1}}'):
        error = await answer(client, "POST", "/events", data=body)
        assert error["code"] == "malformed_body"
    response = await client.get("/events")
    assert json.loads((await response.read()).decode("utf-8"))["events"] == []


# Lone surrogates written as JSON escapes decode to text that cannot be encoded as UTF-8.
ESCAPES = [r"\ud800", r"\udfff", r"\uDBFF", r"\udc00\ud800", r"\ud800\u0041", r"a\ud800"]


@pytest.mark.parametrize("escape", ESCAPES)
@pytest.mark.parametrize("place", PLACES.values(), ids=PLACES.keys())
@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
async def test_lone_surrogate_escape_is_refused(
    seeded: TestClient[Any, Any], route: Any, place: bytes, escape: str
) -> None:
    method, path, wrap, headers = route
    body = wrap(place.replace(b"X", escape.encode()))
    error = await answer(seeded, method, path, data=body, headers=headers)
    assert (error["status"], error["code"]) == (400, "malformed_body"), error
    assert "surrogate" in error["message"], error
    await assert_unchanged(seeded)


async def test_a_surrogate_pair_escape_is_stored(seeded: TestClient[Any, Any]) -> None:
    response = await seeded.post(
        "/events", data=rb'{"title": "\ud83d\ude00", "data": "\uD83D\uDE00"}'
    )
    assert response.status == 201
    event = json.loads((await response.read()).decode("utf-8"))
    assert event["title"] == "\U0001f600" and event["data"] == "\U0001f600"


QUERIES = [
    ("/events?type=%ff", "type"),
    ("/events?key=%ED%A0%80", "key"),
    ("/events?type=%C0%AF", "type"),
    ("/events?start=%ff", "start"),
    ("/events?cursor=%ff", "cursor"),
    ("/events?%ff=1", "\ufffd"),
    ("/events?type=a&limit=1%ff", "limit"),
    ("/stats?type=%ff", "type"),
    ("/stats?window=5m%ff", "window"),
    ("/stats/history?window=5m&step=1m&start=0&end=60&type=%ff", "type"),
    ("/debug/events?limit=%ff", "limit"),
]


@pytest.mark.parametrize(("path", "field"), QUERIES)
async def test_invalid_utf8_in_a_query_is_a_bad_parameter(
    seeded: TestClient[Any, Any], path: str, field: str
) -> None:
    error = await answer(seeded, "GET", path)
    assert (error["status"], error["code"], error["field"]) == (400, "bad_parameter", field)
    assert "UTF-8" in error["message"]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("id", ["%ff", "%ED%A0%80", "%C0%AF"])
async def test_invalid_utf8_in_an_id_is_not_found(
    seeded: TestClient[Any, Any], method: str, id: str
) -> None:
    body = b'{"timestamp": 3}' if method in ("PUT", "PATCH") else None
    error = await answer(seeded, method, f"/events/{id}", data=body)
    assert (error["status"], error["field"]) == (404, "id"), error
    await assert_unchanged(seeded)


async def test_invalid_utf8_in_clear_confirm_is_a_bad_parameter(
    seeded: TestClient[Any, Any],
) -> None:
    error = await answer(seeded, "DELETE", "/events?confirm=true%ff")
    assert (error["status"], error["field"]) == (400, "confirm")
    await assert_unchanged(seeded)


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ("confirm=true&confirm=false&foo=1", "confirm", "more than once"),
        ("confirm=false&confirm=true", "confirm", "more than once"),
        ("confirm=true&confirm=true", "confirm", "more than once"),
        ("confirm=true&foo=1", "foo", "unknown parameter"),
    ],
)
async def test_clear_refuses_repeated_and_unknown_parameters(
    seeded: TestClient[Any, Any], query: str, field: str, reason: str
) -> None:
    error = await answer(seeded, "DELETE", f"/events?{query}")
    assert (error["status"], error["field"]) == (400, field), error
    assert reason in error["message"]
    await assert_unchanged(seeded)


@pytest.mark.parametrize(
    ("path", "field", "reason"),
    [
        ("/health?foo=1", "foo", "unknown parameter"),
        ("/statistics?foo=1", "foo", "unknown parameter"),
        ("/debug/events?foo=1", "foo", "unknown parameter"),
        ("/debug/events?limit=1&limit=2", "limit", "more than once"),
    ],
)
async def test_status_routes_refuse_repeated_and_unknown_parameters(
    seeded: TestClient[Any, Any], path: str, field: str, reason: str
) -> None:
    error = await answer(seeded, "GET", path)
    assert (error["status"], error["code"], error["field"]) == (400, "bad_parameter", field)
    assert reason in error["message"]


BIG = "9" * 5000

NUMBER_QUERIES = [
    (f"/events?limit={BIG}", "limit"),
    (f"/events?pageSize={BIG}", "limit"),
    (f"/events?start={BIG}", "start"),
    (f"/events?start=-{BIG}", "start"),
    (f"/events?end={BIG}.5", "end"),
    (f"/events?end=0.{BIG}", None),
    (f"/stats?start={BIG}&end=1", "start"),
    (f"/stats?start=1&end={BIG}", "end"),
    (f"/stats?window={BIG}", "window"),
    (f"/stats?window={BIG}s", "window"),
    (f"/stats?window={BIG[:4301]}m{BIG[:3000]}s", "window"),
    (f"/stats/history?window={BIG}s&step=1m&start=0&end=60", "window"),
    (f"/stats/history?window=5m&step={BIG}&start=0&end=60", "step"),
    (f"/stats/history?window=5m&step={BIG}d&start=0&end=60", "step"),
    (f"/stats/history?window=5m&step=1m&start={BIG}&end=60", "start"),
    (f"/stats/history?window=5m&step=1m&start=0&end={BIG}", "end"),
    (f"/debug/events?limit={BIG}", "limit"),
]


@pytest.mark.parametrize(("path", "field"), NUMBER_QUERIES)
async def test_a_huge_number_in_a_query_is_a_bad_parameter(
    seeded: TestClient[Any, Any], path: str, field: str | None
) -> None:
    response = await seeded.get(path)
    if field is None:  # a long fraction is a fine number
        assert response.status == 200
        return
    error = await answer(seeded, "GET", path)
    assert (error["status"], error["code"], error["field"]) == (400, "bad_parameter", field)


NUMBER_FIELDS = [
    (f'{{"timestamp": {BIG}}}', "timestamp"),
    (f'{{"timestamp": -{BIG}}}', "timestamp"),
    (f'{{"at": {BIG}.5}}', "at"),
    (f'{{"datetime": {BIG}e-4900}}', "datetime"),
    (f'{{"value": {BIG}}}', "value"),
    (f'{{"value": -{BIG}.0}}', "value"),
    (f'{{"remind": [{BIG}]}}', "remind[0]"),
    (f'{{"remind": ["5m", "{BIG}s"]}}', "remind[1]"),
    (f'{{"remind": ["{BIG}d{BIG}h"]}}', "remind[0]"),
    # Numbers no reader could decode are refused in data too.
    (f'{{"data": {BIG}}}', "data"),
    (f'{{"data": {{"a": [1, -{BIG}]}}}}', "data"),
    ('{"data": 1e400}', "data"),
    ('{"payload": {"x": -1E+999}}', "payload"),
]


@pytest.mark.parametrize(("body", "field"), NUMBER_FIELDS)
@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
async def test_a_huge_number_in_a_body_is_an_invalid_field(
    seeded: TestClient[Any, Any], route: Any, body: str, field: str
) -> None:
    method, path, wrap, headers = route
    if method == "POST" and path == "/event" and field in ("timestamp", "value"):
        wrap = lambda one: one  # noqa: E731  (the legacy wrapper would repeat the field)
    error = await answer(seeded, method, path, data=wrap(body.encode()), headers=headers)
    assert (error["status"], error["code"], error["field"]) == (422, "invalid_field", field)
    await assert_unchanged(seeded)


async def test_data_with_big_but_decodable_numbers_is_kept_exactly(
    seeded: TestClient[Any, Any],
) -> None:
    body = b'{"id": "n", "timestamp": 5, "data": {"b": 1e300, "a": ' + b"9" * 4000 + b"}}"
    response = await seeded.post("/events", data=body)
    assert response.status == 201
    assert b'"a":' + b"9" * 4000 in await response.read()
    # The same content with its keys in another order is the same event.
    again = b'{"id": "n", "timestamp": 5, "data": {"a": ' + b"9" * 4000 + b', "b": 1e300}}'
    assert (await seeded.post("/events", data=again)).status == 200
