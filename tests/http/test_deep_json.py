"""JSON nested deeper than a decoder recurses is refused with a 4xx naming the field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from eventd import nesting
from tests.http.test_hostile_input import NDJSON, answer, assert_unchanged, seeded

__all__ = ["seeded"]  # a fixture, used by name


def deep(levels: int, *, objects: bool = False, closed: bool = True) -> bytes:
    """Return a JSON value nested `levels` deep."""
    opener, closer = (b'{"a": ', b"}") if objects else (b"[", b"]")
    inner = b"1" if objects else b""
    return opener * levels + inner + (closer * levels if closed else b"")


# Just under the depth at which the body decoder gives up, and far past it.
DEPTHS = [975, 5000, 100_000]

# (method, path, body around D, headers, field, index)
CASES: dict[str, tuple[str, str, bytes, dict[str, str] | None, str, int | None]] = {
    "post": ("POST", "/events", b'{"type": "x", "data": D}', None, "data", None),
    "post-payload": ("POST", "/events", b'{"payload": D, "type": "x"}', None, "payload", None),
    "post-array": (
        "POST",
        "/events",
        b'[{"data": {"k": [1]}}, {"data": [[1]]}, {"type": "x", "data": D}, {"data": D}]',
        None,
        "data",
        2,
    ),
    "post-ndjson": (
        "POST",
        "/events",
        b'{"data": {"k": [1]}}\n\n{"payload": D}\n{"data": D}\n',
        NDJSON,
        "payload",
        1,
    ),
    "put": ("PUT", "/events/a", b'{"timestamp": 2, "data": D}', None, "data", None),
    "patch": ("PATCH", "/events/a", b'{"title": "t", "data": D}', None, "data", None),
    "legacy": ("POST", "/event", b'{"timestamp": 2, "value": 1, "data": D}', None, "data", None),
}


@pytest.mark.parametrize("objects", [False, True], ids=["arrays", "objects"])
@pytest.mark.parametrize("levels", DEPTHS)
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
async def test_deep_data_is_an_invalid_field(
    seeded: TestClient[Any, Any], case: Any, levels: int, objects: bool
) -> None:
    method, path, template, headers, field, index = case
    body = template.replace(b"D", deep(levels, objects=objects))
    error = await answer(seeded, method, path, data=body, headers=headers)
    assert (error["status"], error["code"]) == (422, "invalid_field"), error
    assert (error["field"], error.get("index")) == (field, index), error
    assert "nested deeper than 32 levels" in error["message"]
    if headers == NDJSON:
        assert "line 3" in error["message"]
    await assert_unchanged(seeded)


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": ' + deep(5000, closed=False),
        b'[{}, {"data": ' + deep(5000, closed=False),
        deep(5000),
        b'{"x": ' + deep(5000) + b"}",
        b'{"remind": ' + deep(5000) + b"}",
        b'[{"data": "' + deep(5000) + b'"}, {"data": ' + deep(5000) + b"}]",
        b'{"data": ' + deep(5000) + b', "payload": ' + deep(5000) + b"}",
    ],
    ids=[
        "unclosed",
        "unclosed-in-array",
        "top-level",
        "unknown-field",
        "remind",
        "in-a-string",
        "both",
    ],
)
async def test_other_deep_bodies_are_a_4xx(seeded: TestClient[Any, Any], body: bytes) -> None:
    error = await answer(seeded, "POST", "/events", data=body)
    assert error["status"] in (400, 422), error
    await assert_unchanged(seeded)


async def test_data_just_deep_enough_is_stored(seeded: TestClient[Any, Any]) -> None:
    response = await seeded.post("/events", data=b'{"data": ' + deep(32) + b"}")
    assert response.status == 201
    assert (await response.json())["data"] == json.loads(deep(32))


@pytest.mark.parametrize("limit", range(6))
@pytest.mark.parametrize(
    ("text", "levels"),
    [
        (b"1", 0),
        (b'"[[{"', 0),
        (b"[]", 1),
        (b'[1, "]]", {"a": [{}]}]', 4),
        (rb'{"\\": "\"[", "b": [[["\\\\"]]]}', 4),
        (rb'["\\\\\"[[", [[]]]', 3),
    ],
)
def test_nesting_is_measured_outside_strings(text: bytes, levels: int, limit: int) -> None:
    assert nesting.deeper_than(text, limit) == (levels > limit)


@pytest.mark.parametrize(
    ("text", "limit", "index"),
    [
        (b"[]", 0, None),
        (b"[1, [], [[]], [[[]]]]", 1, 2),
        (b'[{"a": "[[["}, {"b": [[]]}, {}]', 2, 1),
        (b"[[[], []], [[[]]]]", 2, 1),
        (b"{}", 0, None),
    ],
)
def test_first_deeper_item(text: bytes, limit: int, index: int | None) -> None:
    assert nesting.first_deeper_item(text, limit) == index
