"""Large imports over HTTP, done in slices (issue 20): still all or nothing, and answered in
full."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from eventd import pacing
from eventd.events import routes
from eventd.http import bodies

Client = TestClient[Any, Any]
COUNT = 3_000
NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.fixture(autouse=True)
def small_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut a few thousand events into many slices, each followed by a turn of the loop."""
    monkeypatch.setattr(pacing, "SLICE_SECONDS", 0.0)
    monkeypatch.setattr(bodies, "SLICE_BYTES", 4096)
    monkeypatch.setattr(routes, "ANSWER_SLICE", 100)


def lines(count: int, *extra: str) -> bytes:
    events = [
        json.dumps({"id": f"e{i}", "timestamp": 1_700_000_000 + i, "type": "bulk", "value": i})
        for i in range(count)
    ]
    return ("\n".join([*events, *extra]) + "\n").encode()


async def stored(client: Client) -> int:
    response = await client.get("/events", params={"limit": 1})
    page = await response.json()
    return len(page["events"])


@pytest.mark.parametrize(
    ("last", "status", "field"),
    [
        ('{"type": 7}', 422, "type"),
        ('{"type": "a",,}', 400, None),
        ('{"timestamp": "soon"}', 422, "timestamp"),
    ],
    ids=["invalid", "malformed", "invalid-time"],
)
async def test_a_bad_last_line_stores_nothing(
    client: Client, last: str, status: int, field: str
) -> None:
    response = await client.post("/events", data=lines(COUNT, last), headers=NDJSON)
    assert response.status == status
    error = (await response.json())["error"]
    assert error["field"] == field
    assert f"line {COUNT + 1}" in error["message"] or error["index"] == COUNT
    assert await stored(client) == 0


async def test_a_conflicting_last_event_stores_nothing(client: Client) -> None:
    response = await client.post("/events", data=lines(1), headers=NDJSON)
    assert response.status == 201
    # Few enough for mongomock, which takes its time over each event of a batch it undoes.
    other = json.dumps({"id": "e0", "timestamp": 1, "type": "other"}).encode()
    body = lines(200)[len(lines(1)) :] + other
    response = await client.post("/events", data=body, headers=NDJSON)
    assert response.status == 409, await response.text()
    response = await client.get("/events", params={"limit": 10})
    assert [event["id"] for event in (await response.json())["events"]] == ["e0"]


async def test_a_large_import_is_answered_in_full_and_in_order(client: Client) -> None:
    response = await client.post("/events", data=lines(COUNT), headers=NDJSON)
    assert response.status == 201, await response.text()
    answered = (await response.json())["events"]
    assert [event["id"] for event in answered] == [f"e{i}" for i in range(COUNT)]
    one = await client.get("/events/e1234")
    assert answered[1234] == await one.json()
    again = await client.post("/events", data=lines(COUNT), headers=NDJSON)
    assert again.status == 200  # each already stored with the same content
    assert (await again.json())["events"] == answered


async def test_a_large_array_is_stored_all_or_nothing(client: Client) -> None:
    events = [{"timestamp": 1_700_000_000 + i, "value": i} for i in range(COUNT)]
    bad = json.dumps([*events, {"value": "high"}]).encode()
    response = await client.post("/events", data=bad, headers={"Content-Type": "application/json"})
    assert response.status == 422
    error = (await response.json())["error"]
    assert (error["field"], error["index"]) == ("value", COUNT)
    assert await stored(client) == 0
    good = json.dumps(events).encode()
    response = await client.post("/events", data=good, headers={"Content-Type": "application/json"})
    assert response.status == 201
    assert [event["value"] for event in (await response.json())["events"]] == list(range(COUNT))
