"""The `reminders` channel over real WebSockets: alone, with `events` on one subscription,
filtered like `events`, and replayed from `since`."""

from __future__ import annotations

import pytest

from eventd.keys import HUB
from tests.conftest import FakeClock
from tests.reminders.conftest import Client, service
from tests.reminders.test_service import at, next_reminder, nothing_more
from tests.ws.test_websocket import changes, connect, post, receive, subscribe

pytestmark = pytest.mark.memory


async def test_events_and_reminders_come_in_position_order_on_one_subscription(
    client: Client, clock: FakeClock
) -> None:
    ws = await connect(client)
    start = (await subscribe(ws, "both", channels=["events", "reminders"]))["position"]
    assert len(client.app[HUB]._subscriptions) == 1  # one feed subscription for both
    await post(client, {"id": "a", "timestamp": at(10)})
    clock.advance(5 * 60)
    await service(client).fire_due()
    await client.patch("/events/a", json={"title": "renamed"})
    got = [await receive(ws) for _ in range(3)]
    assert [(m["type"], m.get("op"), m["position"], m["sub"]) for m in got] == [
        ("change", "created", start + 1, "both"),
        ("reminder", None, start + 2, "both"),
        ("change", "updated", start + 3, "both"),
    ]


async def test_the_events_channel_alone_gets_no_reminder(client: Client, clock: FakeClock) -> None:
    ws = await connect(client)
    await subscribe(ws, "events")
    await post(client, {"id": "a", "timestamp": at(10)})
    clock.advance(5 * 60)
    assert len(await service(client).fire_due()) == 1
    await post(client, {"id": "b"})
    got = await changes(ws, 2)
    assert [m["event"]["id"] for m in got] == ["a", "b"]
    await nothing_more(ws)


async def test_the_reminders_channel_alone_gets_no_change_of_events(
    client: Client, clock: FakeClock
) -> None:
    ws = await connect(client)
    await subscribe(ws, channels=["reminders"])
    await post(client, {"id": "a", "timestamp": at(10)})
    await client.patch("/events/a", json={"title": "x"})
    clock.advance(5 * 60)
    await service(client).fire_due()
    assert (await next_reminder(ws))["reminder"]["event_id"] == "a"
    await nothing_more(ws)
    # A clear does come: it begins a new epoch, and cancels every reminder.
    assert (await client.delete("/events", params={"confirm": "true"})).status == 200
    cleared = await receive(ws)
    assert (cleared["type"], cleared["op"]) == ("change", "cleared")


async def test_the_filter_is_the_events_filter(client: Client, clock: FakeClock) -> None:
    ws = await connect(client)
    await subscribe(ws, channels=["reminders"], filter={"type": "deploy", "key": ["web", "db"]})
    await post(
        client,
        [
            {"id": "1", "type": "alert", "key": "web", "timestamp": at(10)},
            {"id": "2", "type": "deploy", "key": "cache", "timestamp": at(10)},
            {"id": "3", "type": "deploy", "key": "db", "timestamp": at(10)},
            {"id": "4", "type": "deploy", "timestamp": at(10)},
            {"id": "5", "type": "deploy", "key": "web", "timestamp": at(10)},
        ],
    )
    clock.advance(5 * 60)
    assert len(await service(client).fire_due()) == 5
    got = [(await next_reminder(ws))["event"]["id"] for _ in range(2)]
    assert got == ["3", "5"]
    await nothing_more(ws)


async def test_since_replays_the_reminders_sent_meanwhile(client: Client, clock: FakeClock) -> None:
    ws = await connect(client)
    start = (await subscribe(ws, channels=["reminders"]))["position"]
    await post(client, [{"id": "a", "timestamp": at(10)}, {"id": "b", "timestamp": at(20)}])
    clock.advance(5 * 60)
    await service(client).fire_due()
    first = await next_reminder(ws)
    await ws.close()
    clock.advance(10 * 60)
    await service(client).fire_due()  # sent while the subscriber was away
    await post(client, {"id": "c"})
    ws = await connect(client)
    reply = await subscribe(ws, channels=["reminders", "events"], since=first["position"])
    assert reply["position"] > first["position"] > start
    replayed = [await receive(ws) for _ in range(2)]
    assert [(m["type"], m["event"]["id"]) for m in replayed] == [("reminder", "b"), ("change", "c")]
    await nothing_more(ws)
