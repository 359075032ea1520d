"""GET /reminders and GET /events/{id}/reminders: due order, states, filters, cursors, errors."""

from __future__ import annotations

from typing import Any

import pytest

from eventd.config import Config
from eventd.store.base import Engine, Reminders
from eventd.store.memory import MemoryEngine
from tests.conftest import FakeClock, MakeClient
from tests.reminders.conftest import Client, service
from tests.reminders.test_service import at, reminders_of
from tests.ws.test_websocket import post

pytestmark = pytest.mark.memory


async def listing(client: Client, **params: Any) -> dict[str, Any]:
    response = await client.get("/reminders", params=params)
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


async def seed(client: Client) -> None:
    await post(
        client,
        [
            {"id": "b", "type": "deploy", "key": "web", "timestamp": at(30), "remind": ["5m"]},
            {"id": "a", "type": "deploy", "key": "db", "timestamp": at(30), "remind": ["5m"]},
            {"id": "c", "type": "alert", "timestamp": at(20), "remind": ["1m", "10m"]},
        ],
    )


async def test_the_listing_is_in_due_order_and_pending_by_default(client: Client) -> None:
    await seed(client)
    body = await listing(client)
    got = [(r["event_id"], r["offset"], r["due"]) for r in body["reminders"]]
    assert got == [
        ("c", "10m", at(10)),
        ("c", "1m", at(19)),
        ("a", "5m", at(25)),  # same due time: by event id
        ("b", "5m", at(25)),
    ]
    assert body["next_cursor"] is None
    assert body["reminders"][0] == {
        "event_id": "c",
        "offset": "10m",
        "offset_seconds": 600,
        "due": at(10),
        "state": "pending",
        "sent_at": None,
        "title": None,
        "type": "alert",
        "key": None,
    }


async def test_the_listing_names_each_event_and_gives_the_server_s_time(
    client: Client, clock: FakeClock
) -> None:
    await post(client, {"id": "s", "title": "Standup", "key": "team", "timestamp": at(30)})
    await post(client, {"id": "u", "timestamp": at(40), "remind": ["1m", "5m"]})
    body = await listing(client)
    assert body["server_time"] == at(0)
    got = [(r["event_id"], r["title"], r["type"], r["key"]) for r in body["reminders"]]
    assert got == [
        ("s", "Standup", "event", "team"),
        ("u", None, "event", None),
        ("u", None, "event", None),
    ]
    clock.advance(60)
    assert (await listing(client))["server_time"] == at(1)


async def test_filters_by_due_time_type_key_and_state(client: Client, clock: FakeClock) -> None:
    await seed(client)
    ids = lambda body: [(r["event_id"], r["offset"]) for r in body["reminders"]]  # noqa: E731
    assert ids(await listing(client, type="deploy")) == [("a", "5m"), ("b", "5m")]
    assert ids(await listing(client, key="web")) == [("b", "5m")]
    assert ids(await listing(client, type="deploy", key="db")) == [("a", "5m")]
    assert ids(await listing(client, start=at(11), end=at(25))) == [
        ("c", "1m"),
        ("a", "5m"),
        ("b", "5m"),
    ]
    assert ids(await listing(client, end=at(19))) == [("c", "10m"), ("c", "1m")]
    clock.advance(10 * 60)
    await service(client).fire_due()
    sent = await listing(client, state="sent")
    assert ids(sent) == [("c", "10m")]
    assert sent["reminders"][0]["sent_at"] == at(10)
    assert ids(await listing(client, state="missed")) == []


async def test_pages_follow_the_cursor(client: Client) -> None:
    await post(
        client,
        [{"id": f"e{i:02d}", "timestamp": at(10 + i), "remind": ["1m", "2m"]} for i in range(7)],
    )
    seen: list[tuple[str, str]] = []
    params: dict[str, Any] = {"limit": 3, "type": "event"}
    while True:
        body = await listing(client, **params)
        seen += [(r["event_id"], r["due"]) for r in body["reminders"]]
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert len(seen) == 14
    assert [due for _, due in seen] == sorted(due for _, due in seen)


async def test_a_cursor_of_other_filters_or_of_events_is_refused(client: Client) -> None:
    await post(client, [{"timestamp": at(10 + i)} for i in range(3)])
    token = (await listing(client, limit=1))["next_cursor"]
    response = await client.get("/reminders", params={"limit": 1, "cursor": token, "state": "sent"})
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["field"] == "cursor" and "other filters" in error["message"]
    events_token = (await (await client.get("/events", params={"limit": 1})).json())["next_cursor"]
    response = await client.get("/reminders", params={"cursor": events_token})
    assert response.status == 400
    assert (await response.json())["error"]["message"] == "is not a valid cursor"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "done"}, "state"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"start": "soon"}, "start"),
        ({"start": "2025-06-02T00:00:00Z", "end": "2025-06-01T00:00:00Z"}, "start"),
        ({"type": ""}, "type"),
        ({"key": ""}, "key"),
        ({"order": "asc"}, "order"),
        ({"cursor": "nonsense"}, "cursor"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    client: Client, params: dict[str, str], field: str
) -> None:
    response = await client.get("/reminders", params=params)
    assert response.status == 400
    error = (await response.json())["error"]
    assert (error["code"], error["field"]) == ("bad_parameter", field)


async def test_an_event_s_reminders(client: Client) -> None:
    await post(client, {"id": "x", "timestamp": at(30), "remind": ["1m", "10m"]})
    assert [(r["offset"], r["state"]) for r in await reminders_of(client, "x")] == [
        ("10m", "pending"),
        ("1m", "pending"),
    ]
    await post(client, {"id": "none", "timestamp": at(30), "remind": []})
    assert await reminders_of(client, "none") == []


async def test_an_unknown_event_is_404(client: Client) -> None:
    response = await client.get("/events/nope/reminders")
    assert response.status == 404
    error = (await response.json())["error"]
    assert (error["code"], error["field"]) == ("not_found", "id")
    await post(client, {"id": "gone", "timestamp": at(30)})
    await client.delete("/events/gone")
    assert (await client.get("/events/gone/reminders")).status == 404


class Plain(Engine):
    """An engine without the `Reminders` capability: the memory engine's other methods."""

    name = "plain"

    def __init__(self) -> None:
        self.inner = MemoryEngine()

    @classmethod
    def from_config(cls, config: Config) -> Plain:
        return cls()


for _name in sorted(Engine.__abstractmethods__ - {"from_config"}):
    setattr(Plain, _name, lambda self, *a, _name=_name: getattr(self.inner, _name)(*a))
Plain.__abstractmethods__ = frozenset()


async def test_an_engine_without_reminders_answers_501(make_client: MakeClient) -> None:
    engine = Plain()
    assert not isinstance(engine, Reminders)
    client = await make_client(engine=engine)
    for path in ("/reminders", "/events/x/reminders"):
        response = await client.get(path)
        assert response.status == 501
        assert (await response.json())["error"]["code"] == "not_supported"
