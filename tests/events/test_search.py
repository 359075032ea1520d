"""`GET /events?data.<path>=<value>`: field-value search over HTTP, on every engine."""

from __future__ import annotations

from typing import Any

import pytest

from tests.events.test_routes import Client, listing, post, walk


@pytest.fixture
def indexed_fields() -> tuple[str, ...]:
    """`status` is indexed, as by default; `n` and the rest are searched by a scan."""
    return ("status",)


async def error_of(client: Client, params: Any) -> Any:
    response = await client.get("/events", params=params)
    assert response.status == 400, await response.text()
    return (await response.json())["error"]


def ids(page: Any) -> list[str]:
    return [event["id"] for event in page["events"]]


async def test_a_number_and_a_string_are_different_values(client: Client) -> None:
    await post(
        client,
        [
            {"id": "int", "timestamp": 1, "data": {"n": 5}},
            {"id": "str", "timestamp": 2, "data": {"n": "5"}},
            {"id": "float", "timestamp": 3, "data": {"n": 5.0}},
            {"id": "word", "timestamp": 4, "data": {"n": "five"}},
        ],
    )
    assert ids(await listing(client, **{"data.n": "5"})) == ["int", "float"]
    assert ids(await listing(client, **{"data.n": '"5"'})) == ["str"]
    assert ids(await listing(client, **{"data.n": "five"})) == ["word"]  # not JSON: a string
    assert ids(await listing(client, **{"data.n": '"five"'})) == ["word"]


async def test_clauses_are_anded_with_each_other_and_the_filters(client: Client) -> None:
    await post(
        client,
        [
            {"id": "a", "timestamp": 1, "type": "job", "key": "k", "data": {"status": "wait"}},
            {"id": "b", "timestamp": 2, "type": "job", "data": {"status": "wait", "n": 1}},
            {"id": "c", "timestamp": 3, "type": "x", "data": {"status": "wait", "n": 1}},
            {"id": "d", "timestamp": 4, "type": "job", "data": {"status": "end", "n": 1}},
        ],
    )
    assert ids(await listing(client, **{"data.status": "wait"})) == ["a", "b", "c"]
    assert ids(await listing(client, **{"data.status": "wait", "data.n": "1"})) == ["b", "c"]
    both = {"data.status": "wait", "data.n": "1", "type": "job"}
    assert ids(await listing(client, **both)) == ["b"]
    assert ids(await listing(client, **{"data.status": "wait", "key": "k"})) == ["a"]
    assert ids(await listing(client, **{"data.status": "wait", "start": "2"})) == ["b", "c"]
    assert ids(await listing(client, **{"data.status": "wait", "order": "desc"})) == [
        "c",
        "b",
        "a",
    ]


async def test_json_pointers_address_keys_with_dots(client: Client) -> None:
    await post(
        client,
        [
            {"id": "dotted", "timestamp": 1, "data": {"a.b": 1, "value": 7}},
            {"id": "nested", "timestamp": 2, "data": {"a": {"b": 1}}},
        ],
    )
    assert ids(await listing(client, **{"data./a.b": "1"})) == ["dotted"]
    assert ids(await listing(client, **{"data.a.b": "1"})) == ["nested"]
    assert ids(await listing(client, **{"data./a/b": "1"})) == ["nested"]
    # `value` after `data.` is a key of data, not the event's own value.
    assert ids(await listing(client, **{"data.value": "7"})) == ["dotted"]


@pytest.mark.parametrize("field", ["status", "n"])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_pages_with_cursors(client: Client, field: str, order: str) -> None:
    events = [
        {"id": f"e{i:02}", "timestamp": i, "data": {field: "wait" if i % 3 else "run"}}
        for i in range(30)
    ]
    await post(client, events)
    expected = [f"e{i:02}" for i in range(30) if i % 3]
    seen = await walk(client, **{f"data.{field}": "wait", "limit": "4", "order": order})
    assert seen == (expected if order == "asc" else expected[::-1])


async def test_a_cursor_is_bound_to_its_data_clauses(client: Client) -> None:
    await post(client, [{"timestamp": i, "data": {"status": "wait", "n": i}} for i in range(5)])
    page = await listing(client, **{"data.status": "wait", "limit": "2"})
    cursor = page["next_cursor"]
    assert cursor is not None
    for other in ({}, {"data.status": "run"}, {"data.status": "wait", "data.n": "1"}):
        error = await error_of(client, {**other, "cursor": cursor, "limit": "2"})
        assert error["field"] == "cursor" and "data." in error["message"]
    # The same clause spelled another way is the same listing.
    rest = await listing(client, **{"data./status": '"wait"', "cursor": cursor, "limit": "9"})
    assert len(rest["events"]) == 3


async def test_an_update_and_a_delete_change_the_results(client: Client) -> None:
    await post(client, [{"id": "a", "timestamp": 1, "data": {"status": "wait"}}], 201)
    await post(client, [{"id": "b", "timestamp": 2, "data": {"status": "wait"}}], 201)
    response = await client.patch("/events/a", json={"data": {"status": "end"}})
    assert response.status == 200
    assert ids(await listing(client, **{"data.status": "wait"})) == ["b"]
    assert ids(await listing(client, **{"data.status": "end"})) == ["a"]
    assert (await client.delete("/events/b")).status == 204
    assert ids(await listing(client, **{"data.status": "wait"})) == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"data.": "1"}, "data."),
        ({"data.a..b": "1"}, "data.a..b"),
        ({"data./a~2": "1"}, "data./a~2"),
        ({"data.a": "1", "data./a": "2"}, "data./a"),
        ({"data.n": "[" * 66 + "]" * 66}, "data.n"),
        ({"data.n": "[" * 1300 + "]" * 1300}, "data.n"),
        ({"datum.n": "1"}, "datum.n"),
        ({"data.n": "1e400"}, "data.n"),  # a number no event holds: refused, as by the WS
    ],
)
async def test_bad_data_parameters_are_400_naming_them(
    client: Client, params: dict[str, str], field: str
) -> None:
    error = await error_of(client, params)
    assert (error["code"], error["field"]) == ("bad_parameter", field)


async def test_a_repeated_data_parameter_is_400(client: Client) -> None:
    error = await error_of(client, [("data.n", "1"), ("data.n", "2")])
    assert error["field"] == "data.n"


async def test_too_many_data_parameters_are_400(client: Client) -> None:
    error = await error_of(client, {f"data.f{i}": "1" for i in range(17)})
    assert error["field"] == "data.f16"
