"""GET /timelines/{key}, /timelines and /transitions over real HTTP, on every engine."""

from __future__ import annotations

from typing import Any

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
