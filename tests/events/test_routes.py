"""The /events API over real HTTP requests against the app."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from eventd.store.base import Engine
from tests.conftest import FakeClock, MakeClient, make_config

Client = TestClient[Any, Any]


async def post(client: Client, body: Any, status: int = 201) -> Any:
    response = await client.post("/events", json=body)
    assert response.status == status, await response.text()
    return await response.json()


async def listing(client: Client, **params: Any) -> Any:
    response = await client.get("/events", params=params)
    assert response.status == 200, await response.text()
    return await response.json()


async def walk(client: Client, **params: Any) -> list[str]:
    """Follow next_cursor to the end; return every id seen, in order."""
    seen: list[str] = []
    for _ in range(1000):  # bounded: a cursor that does not advance fails
        page = await listing(client, **params)
        seen += [event["id"] for event in page["events"]]
        if page["next_cursor"] is None:
            return seen
        assert page["events"], "no trailing empty page"
        params["cursor"] = page["next_cursor"]
    else:
        raise AssertionError("the pages never ended")


async def test_create_answers_the_stored_event(client: Client, clock: FakeClock) -> None:
    event = await post(
        client,
        {
            "timestamp": "2025-01-01T12:00:00.123456Z",
            "type": "deploy",
            "key": "web",
            "title": "Deploy",
            "value": 3,
            "data": {"sha": "abc", "n": [1, 2]},
            "remind": ["5m", 60],
        },
    )
    assert isinstance(event["id"], str) and event["id"]
    assert event["timestamp"] == "2025-01-01T12:00:00.123456Z"
    assert (event["type"], event["key"], event["title"], event["description"]) == (
        "deploy",
        "web",
        "Deploy",
        None,
    )
    assert event["value"] == 3.0
    assert event["data"] == {"sha": "abc", "n": [1, 2]}
    assert event["remind"] == ["5m", "1m"]
    assert event["created_at"] == event["updated_at"] == "2025-06-01T12:00:00.000000Z"
    fetched = await (await client.get(f"/events/{event['id']}")).json()
    assert fetched == event


async def test_defaults_when_fields_are_omitted(client: Client) -> None:
    event = await post(client, {})
    assert event["timestamp"] == "2025-06-01T12:00:00.000000Z"  # the clock's now
    assert event["type"] == "event"
    assert event["data"] is None and event["value"] is None and event["remind"] is None


async def test_aliases_of_older_clients(client: Client) -> None:
    a = await post(client, {"at": 1735732800, "event_type": "x", "payload": "p"})
    b = await post(client, {"datetime": "2025-01-01T12:00:00Z"})
    assert (a["timestamp"], a["type"], a["data"]) == ("2025-01-01T12:00:00.000000Z", "x", "p")
    assert b["timestamp"] == "2025-01-01T12:00:00.000000Z"


async def test_trailing_slash_posts_the_same(client: Client) -> None:
    response = await client.post("/events/", json={"type": "slash"})
    assert response.status == 201
    assert (await listing(client, type="slash"))["events"][0]["type"] == "slash"


async def test_timestamps_normalise_to_utc_microseconds(make_client: MakeClient) -> None:
    client = await make_client(make_config(time={"naive_timezone": "Europe/Paris"}))
    cases = {
        "2025-01-01T12:00:00+01:00": "2025-01-01T11:00:00.000000Z",
        "2025-01-01T12:00:00.5-02:30": "2025-01-01T14:30:00.500000Z",
        "2025-01-01T12:00:00": "2025-01-01T11:00:00.000000Z",  # naive, Paris in winter
        "2025-07-01T12:00:00": "2025-07-01T10:00:00.000000Z",  # naive, Paris in summer
        "2025-01-01T12:00:00.123456789Z": "2025-01-01T12:00:00.123456Z",
        1735732800.000001: "2025-01-01T12:00:00.000001Z",
        1735732800: "2025-01-01T12:00:00.000000Z",
    }
    for given, expected in cases.items():
        event = await post(client, {"timestamp": given})
        assert event["timestamp"] == expected, given


async def test_microseconds_round_trip_through_listing(client: Client) -> None:
    stamps = [f"2025-01-01T00:00:00.{us:06d}Z" for us in (1, 999_999, 123_456, 500_000)]
    for stamp in stamps:
        await post(client, {"timestamp": stamp})
    page = await listing(client)
    assert [e["timestamp"] for e in page["events"]] == sorted(stamps)


async def test_json_array_is_one_batch(client: Client) -> None:
    body = await post(client, [{"type": "a"}, {"type": "b"}])
    assert [e["type"] for e in body["events"]] == ["a", "b"]


async def test_ndjson_import(client: Client) -> None:
    lines = "\n".join(f'{{"timestamp": {1735732800 + i}, "value": {i}}}' for i in range(50))
    response = await client.post(
        "/events", data=lines + "\n", headers={"Content-Type": "application/x-ndjson"}
    )
    assert response.status == 201
    assert len((await response.json())["events"]) == 50
    assert len(await walk(client, limit=1000)) == 50


async def test_one_bad_item_stores_nothing(client: Client) -> None:
    response = await client.post("/events", json=[{"type": "ok"}, {"type": "ok"}, {"value": "x"}])
    assert response.status == 422
    error = (await response.json())["error"]
    assert (error["index"], error["field"]) == (2, "value")
    assert (await listing(client))["events"] == []


async def test_ndjson_error_names_index_and_line(client: Client) -> None:
    body = '{"type": "a"}\n\n{"type": 5}\n'
    response = await client.post(
        "/events", data=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert response.status == 422
    error = (await response.json())["error"]
    assert (error["index"], error["field"]) == (1, "type")
    assert "line 3" in error["message"]


async def test_client_id_is_an_idempotency_key(client: Client) -> None:
    body = {"id": "order-17", "timestamp": "2025-01-01T00:00:00Z", "data": {"a": 1, "b": 2}}
    first = await post(client, body, status=201)
    again = await post(client, {**body, "data": {"b": 2, "a": 1}}, status=200)
    assert again == first
    response = await client.post("/events", json={**body, "data": {"a": 2}})
    assert response.status == 409
    assert (await response.json())["error"]["field"] == "id"
    assert (await client.get("/events/order-17")).status == 200


async def test_conflict_in_a_batch_stores_nothing(client: Client) -> None:
    await post(client, {"id": "x", "value": 1})
    response = await client.post("/events", json=[{"id": "fresh"}, {"id": "x", "value": 2}])
    assert response.status == 409
    assert (await response.json())["error"]["index"] == 1
    assert (await client.get("/events/fresh")).status == 404


async def test_equal_timestamps_keep_insertion_order_both_ways(client: Client) -> None:
    for name in "abcd":
        await post(client, {"id": name, "timestamp": "2025-01-01T00:00:00Z"})
    assert [e["id"] for e in (await listing(client))["events"]] == list("abcd")
    assert [e["id"] for e in (await listing(client, order="desc"))["events"]] == list("dcba")


async def test_pages_of_two_over_four_equal_timestamps(client: Client) -> None:
    for name in "abcd":
        await post(client, {"id": name, "timestamp": "2025-01-01T00:00:00Z"})
    first = await listing(client, limit=2)
    assert [e["id"] for e in first["events"]] == ["a", "b"] and first["next_cursor"]
    second = await listing(client, limit=2, cursor=first["next_cursor"])
    assert [e["id"] for e in second["events"]] == ["c", "d"]
    assert second["next_cursor"] is None  # no trailing empty page
    assert await walk(client, limit=2, order="desc") == list("dcba")
    assert await walk(client, pageSize=3) == list("abcd")


async def test_filters_and_aliases_of_listing(client: Client) -> None:
    await post(
        client,
        [
            {"id": "1", "timestamp": "2025-01-01T00:00:01Z", "type": "deploy", "key": "web"},
            {"id": "2", "timestamp": "2025-01-01T00:00:02Z", "type": "alert", "key": "web"},
            {"id": "3", "timestamp": "2025-01-01T00:00:03Z", "type": "deploy", "key": "db"},
        ],
    )
    assert await walk(client, type="deploy") == ["1", "3"]
    assert await walk(client, event_type="deploy", key="db") == ["3"]
    assert await walk(client, start="2025-01-01T00:00:02Z", end="2025-01-01T00:00:03Z") == [
        "2",
        "3",
    ]
    assert await walk(client, start="1735689602", end="1735689602.5") == ["2"]
    assert await walk(client, end="2025-01-01T01:00:01 01:00") == ["1"]  # unencoded '+'


async def test_paging_while_others_write_loses_and_repeats_nothing(client: Client) -> None:
    originals = [f"o{i:02d}" for i in range(40)]
    await post(client, [{"id": id, "timestamp": 1735689600 + i} for i, id in enumerate(originals)])
    deleted = {"o25", "o33"}
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 7}

    async def writer() -> None:
        for i in range(30):
            # new events before, among and after the walk's position
            await post(client, {"id": f"n{i}", "timestamp": 1735689600 + (i * 7) % 50})
            await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    for _ in range(1000):  # bounded: a cursor that does not advance fails
        page = await listing(client, **params)
        seen += [e["id"] for e in page["events"]]
        if len(seen) == 14:  # delete two events the walk has not reached yet
            for id in deleted:
                assert (await client.delete(f"/events/{id}")).status == 204
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    else:
        raise AssertionError("the pages never ended")
    await task
    assert len(seen) == len(set(seen)), "an event came twice"
    assert set(originals) - deleted <= set(seen), "an event was lost"
    assert not deleted & set(seen)


async def test_put_replaces_and_moves_the_event(client: Client, clock: FakeClock) -> None:
    for i, name in enumerate("abc"):
        await post(client, {"id": name, "timestamp": 1735689600 + i, "type": "t", "title": "x"})
    clock.advance(60)
    response = await client.put(
        "/events/a", json={"timestamp": 1735689600 + 10, "type": "moved", "value": 1}
    )
    assert response.status == 200
    replaced = await response.json()
    assert replaced["title"] is None  # a replacement drops what it does not give
    assert replaced["updated_at"] != replaced["created_at"]
    assert await walk(client) == ["b", "c", "a"]
    assert await walk(client, type="t") == ["b", "c"]
    assert await walk(client, type="moved", start=1735689600 + 5) == ["a"]


async def test_put_needs_a_timestamp_and_a_matching_id(client: Client) -> None:
    await post(client, {"id": "a"})
    missing = await client.put("/events/a", json={"type": "x"})
    assert missing.status == 422 and (await missing.json())["error"]["field"] == "timestamp"
    other = await client.put("/events/a", json={"id": "b", "timestamp": 0})
    assert other.status == 422 and (await other.json())["error"]["field"] == "id"


async def test_a_stored_event_can_be_put_back_unchanged(client: Client) -> None:
    event = await post(client, {"id": "a", "timestamp": 5, "data": [1]})
    response = await client.put("/events/a", json=event)
    assert response.status == 200
    body = await response.json()
    assert {k: v for k, v in body.items() if k != "updated_at"} == {
        k: v for k, v in event.items() if k != "updated_at"
    }


async def test_patch_merges_the_given_fields(client: Client) -> None:
    await post(
        client, {"id": "a", "timestamp": 5, "type": "t", "key": "k", "title": "x", "value": 1}
    )
    response = await client.patch("/events/a", json={"value": 2, "key": None, "at": 7})
    assert response.status == 200
    body = await response.json()
    assert (body["value"], body["key"], body["title"], body["type"]) == (2.0, None, "x", "t")
    assert body["timestamp"] == "1970-01-01T00:00:07.000000Z"
    assert await walk(client, key="k") == []


async def test_unknown_ids_answer_404(client: Client) -> None:
    for method, body in (("GET", None), ("PUT", {"timestamp": 1}), ("PATCH", {}), ("DELETE", None)):
        response = await client.request(method, "/events/nope", json=body)
        assert response.status == 404, method
        assert (await response.json())["error"]["code"] == "not_found"


async def test_delete_one(client: Client) -> None:
    await post(client, {"id": "a"})
    response = await client.delete("/events/a")
    assert response.status == 204
    assert (await client.get("/events/a")).status == 404


async def test_clear_needs_confirmation(client: Client) -> None:
    await post(client, [{}, {}])
    refused = await client.delete("/events")
    assert refused.status == 400 and (await refused.json())["error"]["field"] == "confirm"
    assert len((await listing(client))["events"]) == 2
    cleared = await client.delete("/events", params={"confirm": "true"})
    assert (await cleared.json()) == {"deleted": 2}
    assert (await listing(client))["events"] == []


async def test_health(client: Client, any_engine: Engine) -> None:
    response = await client.get("/health")
    body = await response.json()
    assert response.status == 200
    assert body["status"] == "ok" and body["engine"] == any_engine.name
    assert body["server_time"] == "2025-06-01T12:00:00.000000Z"
    assert isinstance(body["version"], str)
