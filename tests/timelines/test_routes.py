"""GET /timelines/{key}, /timelines and /transitions over real HTTP, on every engine."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from eventd.timelines.keys import TRANSITIONS

Client = TestClient[Any, Any]
EXAMPLE = [  # the order start, wait, wait, end, posted out of order below
    ("e1", "2025-06-01T10:00:00Z", "start"),
    ("e2", "2025-06-01T10:01:00Z", "wait"),
    ("e3", "2025-06-01T10:03:00Z", "wait"),
    ("e4", "2025-06-01T10:07:00Z", "end"),
]


async def post(client: Client, **event: Any) -> dict[str, Any]:
    response = await client.post("/events", json=event)
    assert response.status == 201, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def get(client: Client, path: str, status: int = 200, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params)
    assert response.status == status, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def post_example(client: Client, key: str = "order-1") -> None:
    for index in (3, 1, 0, 2):
        id, timestamp, status = EXAMPLE[index]
        await post(client, id=id, key=key, timestamp=timestamp, data={"status": status})


def values(points: list[dict[str, Any]]) -> list[Any]:
    return [point["value"] for point in points]


async def test_example_posted_out_of_order(client: Client) -> None:
    await post_example(client)
    body = await get(client, "/timelines/order-1", field="status")
    assert body["key"] == "order-1" and body["mode"] == "changes" and body["before"] is None
    assert body["points"] == [
        {"timestamp": "2025-06-01T10:00:00.000000Z", "value": "start", "event_id": "e1"},
        {"timestamp": "2025-06-01T10:01:00.000000Z", "value": "wait", "event_id": "e2"},
        {"timestamp": "2025-06-01T10:07:00.000000Z", "value": "end", "event_id": "e4"},
    ]
    every = await get(client, "/timelines/order-1", field="status", mode="all")
    assert [p["event_id"] for p in every["points"]] == ["e1", "e2", "e3", "e4"]
    assert values(every["points"]) == ["start", "wait", "wait", "end"]
    assert not any(point["carried"] for point in every["points"])
    answer = await get(
        client,
        "/transitions",
        field="status",
        start="2025-06-01T09:00:00Z",
        end="2025-06-01T11:00:00Z",
    )
    assert answer["start"] == "2025-06-01T09:00:00.000000Z"
    assert answer["transitions"] == [
        {
            "from": "start",
            "to": "wait",
            "count": 1,
            "dwell_seconds": {"mean": 60.0, "p50": 60.0, "p90": 60.0, "max": 60.0},
        },
        {
            "from": "wait",
            "to": "end",
            "count": 1,
            # wait began at 10:01 (the second wait is no change): six minutes to end
            "dwell_seconds": {"mean": 360.0, "p50": 360.0, "p90": 360.0, "max": 360.0},
        },
    ]


async def test_same_timestamp_keeps_insertion_order(client: Client) -> None:
    at = "2025-06-01T10:00:00Z"
    await post(client, id="z", key="k", timestamp=at, data={"status": "zeta"})
    await post(client, id="a", key="k", timestamp=at, data={"status": "alpha"})
    body = await get(client, "/timelines/k", field="status")
    assert values(body["points"]) == ["zeta", "alpha"]
    answer = await get(client, "/transitions", field="status", start=at, end=at)
    assert [(t["from"], t["to"], t["count"]) for t in answer["transitions"]] == [
        ("zeta", "alpha", 1)
    ]


MIXED = [1, 1.0, "x", None, {"b": 1, "a": [True]}, {"a": [True], "b": 1}, [1, "1"], True, "1"]


async def test_mixed_types_never_fail(client: Client) -> None:
    for second, value in enumerate(MIXED):
        data = {"status": value, "other": value}
        await post(client, key="k", timestamp=f"2025-06-01T10:00:{second:02d}Z", data=data)
    changes = await get(client, "/timelines/k", field="status")
    # 1 and 1.0 are equal JSON, and so are the two objects: no change between them
    assert values(changes["points"]) == [1, "x", None, {"b": 1, "a": [True]}, [1, "1"], True, "1"]
    window = {"start": "2025-06-01T09:00:00Z", "end": "2025-06-01T11:00:00Z"}
    indexed = await get(client, "/transitions", field="status", **window)
    scanned = await get(client, "/transitions", field="other", **window)
    assert indexed["transitions"] == scanned["transitions"]
    assert len(indexed["transitions"]) == 6
    found = await get(client, "/transitions", field="status", **window, **{"from": "null"})
    assert [t["to"] for t in found["transitions"]] == [{"a": [True], "b": 1}]
    found = await get(client, "/transitions", field="status", **window, to='"1"')
    assert [t["from"] for t in found["transitions"]] == [True]
    await get(client, "/timelines", field="status", mode="all")


async def test_changes_and_all_with_a_missing_field(client: Client) -> None:
    given = [None, "a", None, "a", "b", None]  # None: an event without the field
    for second, value in enumerate(given):
        data = {"note": second} if value is None else {"status": value}
        await post(
            client, id=f"e{second}", key="k", timestamp=f"2025-06-01T10:00:0{second}Z", data=data
        )
    changes = await get(client, "/timelines/k", field="status")
    assert [(p["event_id"], p["value"]) for p in changes["points"]] == [("e1", "a"), ("e4", "b")]
    every = await get(client, "/timelines/k", field="status", mode="all")
    # e0 comes before any value: it has no point
    assert [(p["event_id"], p["value"], p["carried"]) for p in every["points"]] == [
        ("e1", "a", False),
        ("e2", "a", True),
        ("e3", "a", False),
        ("e4", "b", False),
        ("e5", "b", True),
    ]
    windowed = await get(
        client, "/timelines/k", field="status", mode="all", start="2025-06-01T10:00:02Z"
    )
    assert windowed["before"]["event_id"] == "e1"
    assert [p["event_id"] for p in windowed["points"]] == ["e2", "e3", "e4", "e5"]
    # within the window, e3's "a" is no change from the "a" before it
    windowed = await get(client, "/timelines/k", field="status", start="2025-06-01T10:00:02Z")
    assert [p["event_id"] for p in windowed["points"]] == ["e4"]


async def test_dotted_keys_and_nested_keys_stay_apart(client: Client) -> None:
    await post(client, key="k", timestamp="2025-06-01T10:00:00Z", data={"a.b": 1})
    await post(client, key="k", timestamp="2025-06-01T10:00:01Z", data={"a": {"b": 2}})
    pointer = await get(client, "/timelines/k", field="/a.b")
    dotted = await get(client, "/timelines/k", field="a.b")
    nested = await get(client, "/timelines/k", field="/a/b")
    assert values(pointer["points"]) == [1]
    assert values(dotted["points"]) == values(nested["points"]) == [2]
    assert pointer["field"] == "/a.b"


async def test_unknown_key_and_bad_parameters(client: Client) -> None:
    assert (await get(client, "/timelines/nobody", field="status"))["points"] == []
    for path in ("/timelines/k", "/timelines", "/transitions"):
        error = (await get(client, path, 400))["error"]
        assert error["field"] == "field"
        assert (await get(client, path, 400, field="a..b"))["error"]["field"] == "field"
        bad = await get(client, path, 400, field="status", start="yesterday")
        assert bad["error"]["field"] == "start"
        bad = await get(client, path, 400, field="status", end="2025-13-01T00:00:00Z")
        assert bad["error"]["field"] == "end"
        later = {"start": "2025-06-02T00:00:00Z", "end": "2025-06-01T00:00:00Z"}
        assert (await get(client, path, 400, field="status", **later))["error"]["field"] == "start"
        bad = await get(client, path, 400, field="status", nonsense="1")
        assert bad["error"]["field"] == "nonsense"
    for path in ("/timelines/k", "/timelines"):
        bad = await get(client, path, 400, field="status", mode="some")
        assert bad["error"]["field"] == "mode"
    assert (await get(client, "/transitions", 400, field="s", type=""))["error"]["field"] == "type"
    assert (await get(client, "/timelines", 400, field="s", cursor="x"))["error"][
        "field"
    ] == "cursor"


async def test_an_index_behind_answers_503(client: Client, monkeypatch: Any) -> None:
    async def never() -> bool:
        return False

    monkeypatch.setattr(client.app[TRANSITIONS], "caught_up", never)
    response = await client.get("/transitions", params={"field": "status"})
    assert response.status == 503 and response.headers["Retry-After"] == "1"
    assert (await client.get("/timelines", params={"field": "status"})).status == 503
    # a field that is not indexed is read from the store, which needs no catching up
    assert (await client.get("/transitions", params={"field": "other"})).status == 200


async def test_the_first_possible_start_is_shown(client: Client) -> None:
    await post_example(client)
    first = "0001-01-01T00:00:00.000000Z"
    for path in ("/timelines/order-1", "/timelines", "/transitions"):
        body = await get(client, path, field="status", start=first)
        assert body.get("start", first) == first, body
    line = await get(client, "/timelines/order-1", field="status", start=first)
    assert line["start"] == first and line["before"] is None
    assert values(line["points"]) == ["start", "wait", "end"]


async def pages(client: Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Return the points of every page of `path`, following `next_cursor`; check that each
    page answers the same key, field, mode, times and `before`."""
    first = await get(client, path, **params)
    points, page = list(first["points"]), first
    while page["next_cursor"] is not None:
        page = await get(client, path, **(params | {"cursor": page["next_cursor"]}))
        assert {
            name: page[name] for name in ("key", "field", "mode", "start", "end", "before")
        } == {name: first[name] for name in ("key", "field", "mode", "start", "end", "before")}
        assert page["points"], "a cursor is only given when a point follows"
        points += page["points"]
    return points


LONG = [  # (minute, status or None for an event without it); two events at minute 5
    (0, "start"),
    (1, "start"),
    (2, None),
    (3, "wait"),
    (4, "wait"),
    (5, None),
    (5, "retry"),
    (6, "retry"),
    (7, "wait"),
    (8, None),
    (9, "end"),
    (10, "end"),
]


@pytest.mark.parametrize("mode", ["changes", "all"])
async def test_pages_of_a_timeline_give_the_whole_answer(client: Client, mode: str) -> None:
    for n, (minute, status) in enumerate(LONG):
        data = {"note": n} if status is None else {"status": status}
        at = f"2025-06-01T10:{minute:02d}:00Z"
        await post(client, id=f"e{n:02d}", key="k", timestamp=at, data=data)
    spans: list[dict[str, str]] = [
        {},
        {"start": "2025-06-01T10:02:00Z"},
        {"end": "2025-06-01T10:08:00Z"},
        {"start": "2025-06-01T10:04:00Z", "end": "2025-06-01T10:09:00Z"},
    ]
    for span in spans:
        whole = await get(client, "/timelines/k", field="status", mode=mode, **span)
        assert whole["next_cursor"] is None and len(whole["points"]) > 2
        paged = await pages(client, "/timelines/k", field="status", mode=mode, limit=2, **span)
        assert paged == whole["points"], span
    # the list cuts each key at `limit` points, and its cursor continues on /timelines/{key}
    listed = await get(client, "/timelines", field="status", mode=mode, limit=2)
    line = listed["timelines"][0]
    assert line["key"] == "k" and len(line["points"]) == 2
    rest = await pages(
        client, "/timelines/k", field="status", mode=mode, limit=2, cursor=line["next_cursor"]
    )
    whole = await get(client, "/timelines/k", field="status", mode=mode)
    assert line["points"] + rest == whole["points"]


async def test_a_timeline_cursor_belongs_to_its_key_field_and_mode(client: Client) -> None:
    for n, status in enumerate(["a", "b", "c", "d"]):
        for key in ("k", "j"):
            await post(client, key=key, timestamp=n + 1, data={"status": status, "s": status})
    page = await get(client, "/timelines/k", field="status", limit=2)
    token = page["next_cursor"]
    assert token is not None
    for path, params in (
        ("/timelines/j", {"field": "status"}),
        ("/timelines/k", {"field": "s"}),
        ("/timelines/k", {"field": "status", "mode": "all"}),
        ("/timelines/k", {"field": "status", "start": "1970-01-01T00:00:01Z"}),
        ("/timelines", {"field": "status"}),  # a list's cursor is another kind
    ):
        error = (await get(client, path, 400, cursor=token, **params))["error"]
        assert (error["code"], error["field"]) == ("bad_parameter", "cursor"), path
    listed = await get(client, "/timelines", field="status", limit=1)
    error = (await get(client, "/timelines/k", 400, field="status", cursor=listed["next_cursor"]))[
        "error"
    ]
    assert error["field"] == "cursor"
    same = await get(client, "/timelines/k", field="/status", limit=2, cursor=token)
    assert values(same["points"]) == ["c", "d"] and same["next_cursor"] is None
    assert (await get(client, "/timelines/k", 400, field="status", limit=0))["error"][
        "field"
    ] == "limit"
