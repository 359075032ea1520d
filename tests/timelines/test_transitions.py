"""GET /transitions on every engine: windows with the value carried in from before `start`,
`from` and `to` questions, filters, writes in the middle of timelines, and /timelines pages.

`status` is indexed (the default `timelines.indexed_fields`); `other` carries the same values
and is answered by a scan: both must always agree.
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from eventd.errors import BadParameter
from eventd.timelines.routes import value_param
from tests.conftest import NOW
from tests.timelines.test_routes import get, post, post_example

Client = TestClient[Any, Any]
WINDOW = {"start": "2025-06-01T10:00:00Z", "end": "2025-06-01T10:10:00Z"}


async def both(client: Client, **params: Any) -> list[dict[str, Any]]:
    """Return the transitions of `status` (indexed), checked against those of `other`."""
    indexed = await get(client, "/transitions", field="status", **params)
    scanned = await get(client, "/transitions", field="other", **params)
    assert indexed["transitions"] == scanned["transitions"]
    return list(indexed["transitions"])


async def put(client: Client, key: str, at: str, value: Any, **event: Any) -> None:
    data = {"status": value, "other": value}
    await post(client, key=key, timestamp=f"2025-06-01T{at}Z", data=data, **event)


def counts(transitions: list[dict[str, Any]]) -> dict[tuple[Any, Any], int]:
    return {(t["from"], t["to"]): t["count"] for t in transitions}


async def test_carry_in_from_before_start_with_full_dwell(client: Client) -> None:
    await put(client, "a", "09:00:00", "start")
    await put(client, "a", "09:50:00", "wait")  # entered wait before the window
    await put(client, "a", "10:05:00", "end")
    await put(client, "b", "10:01:00", "start")
    await put(client, "b", "10:03:00", "wait")
    await put(client, "c", "10:20:00", "wait")  # after the window
    found = await both(client, **WINDOW)
    assert counts(found) == {("wait", "end"): 1, ("start", "wait"): 1}
    wait_end = next(t for t in found if t["to"] == "end")
    assert wait_end["dwell_seconds"]["max"] == 15 * 60.0  # since 09:50, not since 10:00
    start_wait = next(t for t in found if t["to"] == "wait")
    assert start_wait["dwell_seconds"]["mean"] == 120.0
    # the window's bounds are inclusive
    exact = await both(client, start="2025-06-01T10:05:00Z", end="2025-06-01T10:05:00Z")
    assert counts(exact) == {("wait", "end"): 1}


async def test_from_only_and_to_only(client: Client) -> None:
    for key, values in {
        "a": ["start", "wait", "end"],
        "b": ["start", "wait", "retry", "wait", "end"],
        "c": ["new", "wait", "cancelled"],
    }.items():
        for minute, value in enumerate(values):
            await put(client, key, f"10:0{minute}:00", value)
    after_wait = await both(client, **WINDOW, **{"from": "wait"})
    assert counts(after_wait) == {
        ("wait", "end"): 2,
        ("wait", "retry"): 1,
        ("wait", "cancelled"): 1,
    }
    assert after_wait[0]["to"] == "end"  # most frequent first
    into_wait = await both(client, **WINDOW, to="wait")
    assert counts(into_wait) == {("start", "wait"): 2, ("retry", "wait"): 1, ("new", "wait"): 1}
    assert counts(await both(client, **WINDOW, **{"from": "wait", "to": "end"})) == {
        ("wait", "end"): 2
    }
    assert await both(client, **WINDOW, **{"from": "nothing"}) == []


async def test_type_and_key_filter_the_event_of_the_new_value(client: Client) -> None:
    await put(client, "a", "10:00:00", "start", type="created")
    await put(client, "a", "10:01:00", "wait", type="queued")
    await put(client, "b", "10:00:00", "start", type="created")
    await put(client, "b", "10:02:00", "wait", type="other")
    assert counts(await both(client, **WINDOW, type="queued")) == {("start", "wait"): 1}
    assert counts(await both(client, **WINDOW, type="created")) == {}
    found = await both(client, **WINDOW, key="b")
    assert counts(found) == {("start", "wait"): 1}
    assert found[0]["dwell_seconds"]["p50"] == 120.0


async def test_default_window_is_the_hour_before_now(client: Client) -> None:
    for minutes, value in ((150, "start"), (90, "wait"), (30, "end")):
        data = {"status": value, "other": value}
        await post(client, key="k", timestamp=NOW / 1e6 - minutes * 60, data=data)
    found = await both(client)
    assert counts(found) == {("wait", "end"): 1}
    assert found[0]["dwell_seconds"]["max"] == 3600.0
    body = await get(client, "/transitions", field="status")
    assert body["end"] == "2025-06-01T12:00:00.000000Z"
    assert body["start"] == "2025-06-01T11:00:00.000000Z"


async def test_update_and_delete_of_a_middle_event(client: Client) -> None:
    await post_example(client)  # e1 start 10:00, e2 wait 10:01, e3 wait 10:03, e4 end 10:07
    for id, value in (("e1", "start"), ("e2", "wait"), ("e3", "wait"), ("e4", "end")):
        # the example posts `status` only: give `other` the same values
        response = await client.patch(
            f"/events/{id}", json={"data": {"status": value, "other": value}}
        )
        assert response.status == 200
    assert counts(await both(client, **WINDOW)) == {("start", "wait"): 1, ("wait", "end"): 1}

    response = await client.patch("/events/e3", json={"data": {"status": "hold", "other": "hold"}})
    assert response.status == 200
    found = await both(client, **WINDOW)
    assert counts(found) == {("start", "wait"): 1, ("wait", "hold"): 1, ("hold", "end"): 1}
    timeline = await get(client, "/timelines/order-1", field="status")
    assert [p["value"] for p in timeline["points"]] == ["start", "wait", "hold", "end"]

    response = await client.patch("/events/e3", json={"timestamp": "2025-06-01T09:59:00Z"})
    assert response.status == 200  # hold moves before start
    found = await both(client, **WINDOW)
    assert counts(found) == {("hold", "start"): 1, ("start", "wait"): 1, ("wait", "end"): 1}
    hold_start = next(t for t in found if t["from"] == "hold")
    assert hold_start["dwell_seconds"]["max"] == 60.0  # carried in from 09:59

    assert (await client.delete("/events/e2")).status == 204
    found = await both(client, **WINDOW)
    assert counts(found) == {("hold", "start"): 1, ("start", "end"): 1}
    start_end = next(t for t in found if t["to"] == "end")
    assert start_end["dwell_seconds"]["max"] == 7 * 60.0

    response = await client.delete("/events", params={"confirm": "true"})
    assert response.status == 200
    assert await both(client, **WINDOW) == []
    assert (await get(client, "/timelines", field="status"))["timelines"] == []


async def test_pages_of_timelines(client: Client) -> None:
    keys = [f"key-{n}" for n in range(5)]
    for n, key in enumerate(reversed(keys)):
        await put(client, key, f"10:0{n}:00", "start")
        await put(client, key, f"10:0{n}:30", "wait")
    await post(client, key="no-field", data={"note": 1})
    for field in ("status", "other"):
        seen: list[str] = []
        params: dict[str, Any] = {"field": field, "limit": 2}
        pages = 0
        while True:
            page = await get(client, "/timelines", **params)
            pages += 1
            assert page["field"] == field and page["mode"] == "changes"
            seen += [line["key"] for line in page["timelines"]]
            for line in page["timelines"]:
                assert [p["value"] for p in line["points"]] == ["start", "wait"]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert seen == keys and pages == 3
    first = await get(client, "/timelines", field="status", limit=2)
    other = {"field": "other", "limit": 2, "cursor": first["next_cursor"]}
    assert (await get(client, "/timelines", 400, **other))["error"]["field"] == "cursor"
    later = {"field": "status", "start": "2025-06-01T10:04:00Z", "limit": 100}
    lines = (await get(client, "/timelines", **later))["timelines"]
    assert [line["key"] for line in lines] == keys  # every key with the field, even without points
    # key-0 began at 10:04; key-4 at 10:00, and waits since 10:00:30
    assert [p["value"] for p in lines[0]["points"]] == ["start", "wait"]
    assert lines[0]["before"] is None
    assert lines[-1]["points"] == [] and lines[-1]["before"]["value"] == "wait"


@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("depth", [65, 491, 1000])  # deeper does not fit in a request line
async def test_a_value_nested_too_deeply_is_400_naming_it(
    client: Client, name: str, depth: int
) -> None:
    params = {"field": "status", name: "[" * depth + "1" + "]" * depth}
    error = (await get(client, "/transitions", 400, **params))["error"]
    assert (error["code"], error["field"]) == ("bad_parameter", name)
    assert "nested" in error["message"]


@pytest.mark.parametrize("name", ["from", "to"])
@pytest.mark.parametrize("depth", [65, 491, 1000, 5000])
def test_value_param_refuses_any_depth_naming_it(name: str, depth: int) -> None:
    with pytest.raises(BadParameter, match="nested") as caught:
        value_param({name: "[" * depth + "1" + "]" * depth}, name)
    assert caught.value.field == name
    assert value_param({name: "[" * 63 + "1" + "]" * 63}, name) == "[" * 63 + "1" + "]" * 63
