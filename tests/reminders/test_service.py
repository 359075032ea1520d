"""Reminders end to end with an injected clock: through real HTTP and WebSocket connections,
the service's timer and its `fire_due`, on an engine that keeps reminders."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from eventd.jobs.scheduler import JOBS
from eventd.reminders import REARM_JOB
from eventd.times import format_us
from tests.conftest import NOW, FakeClock, MakeClient, make_config
from tests.reminders.conftest import Client, reminding_engine, service
from tests.ws.test_websocket import WS, connect, post, receive, subscribe

pytestmark = pytest.mark.memory


def at(minutes: float) -> str:
    """Return the time `minutes` after the tests' now, as RFC 3339."""
    return format_us(NOW + round(minutes * 60_000_000))


async def listen(client: Client, **fields: Any) -> WS:
    ws = await connect(client)
    await subscribe(ws, channels=["reminders"], **fields)
    return ws


async def next_reminder(ws: WS) -> dict[str, Any]:
    message = await receive(ws)
    assert message["type"] == "reminder", message
    return message


async def nothing_more(ws: WS) -> None:
    """Check that nothing is queued for the socket: a ping's pong comes next."""
    await ws.send_json({"type": "ping", "id": "check"})
    assert await receive(ws) == {"type": "pong", "id": "check"}


async def reminders_of(client: Client, id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/events/{id}/reminders")
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["event_id"] == id
    reminders: list[dict[str, Any]] = body["reminders"]
    return reminders


async def test_a_reminder_fires_at_its_due_time_and_not_before(
    client: Client, clock: FakeClock
) -> None:
    ws = await listen(client)
    event = await post(client, {"id": "standup", "title": "Standup", "timestamp": at(10)})
    clock.advance(5 * 60 - 0.000001)  # one microsecond before it is due
    assert await service(client).fire_due() == []
    await nothing_more(ws)
    clock.advance(0.000001)
    [sent] = await service(client).fire_due()
    assert (sent.state, sent.sent_at, sent.due) == ("sent", clock.now, clock.now)
    message = await next_reminder(ws)
    assert message == {
        "type": "reminder",
        "sub": "s",
        "position": sent.position,
        "reminder": {
            "event_id": "standup",
            "offset": "5m",
            "offset_seconds": 300,
            "due": at(5),
            "starts_at": at(10),
            "starts_in_seconds": 300.0,
            "late": False,
            "message": "Event 'Standup' starts in 5 minutes, at 12:10 UTC",
        },
        "event": event,
    }
    assert await service(client).fire_due() == []  # exactly once
    [item] = await reminders_of(client, "standup")
    assert item == {
        "event_id": "standup",
        "offset": "5m",
        "offset_seconds": 300,
        "due": at(5),
        "state": "sent",
        "sent_at": at(5),
    }


async def test_the_timer_claims_what_is_due_when_woken(client: Client, clock: FakeClock) -> None:
    ws = await listen(client)
    await post(client, {"id": "a", "timestamp": at(10)})
    clock.advance(5 * 60)
    service(client).rearm()  # what the safety-net job does; the timer claims at the clock's now
    message = await next_reminder(ws)
    assert message["reminder"]["event_id"] == "a"
    assert message["reminder"]["message"] == "Event 'event' starts in 5 minutes, at 12:10 UTC"


async def test_the_rearm_job_has_a_fixed_id_and_wakes_the_timer(
    client: Client, clock: FakeClock
) -> None:
    [job] = [job for job in client.app[JOBS] if job.id == REARM_JOB]
    assert REARM_JOB == "reminders-rearm"
    ws = await listen(client)
    await post(client, {"id": "a", "timestamp": at(10)})
    clock.advance(6 * 60)
    await job.run()
    assert (await next_reminder(ws))["reminder"]["event_id"] == "a"


async def test_none_fires_for_an_event_that_has_started(client: Client, clock: FakeClock) -> None:
    ws = await listen(client)
    await post(client, [{"id": "past", "timestamp": at(-1)}, {"id": "now", "timestamp": at(0)}])
    assert await reminders_of(client, "past") == []
    assert await reminders_of(client, "now") == []
    clock.advance(3600)
    assert await service(client).fire_due() == []
    await nothing_more(ws)


async def test_remind_overrides_the_default_and_an_empty_list_turns_reminders_off(
    make_reminding: Any, clock: FakeClock
) -> None:
    client = await make_reminding(make_config(reminders={"default_offsets": "10m,1h"}))
    ws = await listen(client)
    await post(
        client,
        [
            {"id": "default", "timestamp": at(120)},
            {"id": "own", "timestamp": at(120), "remind": ["1m"]},
            {"id": "off", "timestamp": at(120), "remind": []},
        ],
    )
    assert [r["offset"] for r in await reminders_of(client, "default")] == ["1h", "10m"]
    assert [r["offset"] for r in await reminders_of(client, "own")] == ["1m"]
    assert await reminders_of(client, "off") == []
    clock.advance(119 * 60)  # all due, none started
    claimed = await service(client).fire_due()
    assert [(r.event_id, r.offset) for r in claimed] == [
        ("default", 3600),
        ("default", 600),
        ("own", 60),
    ]
    got = [(await next_reminder(ws))["reminder"] for _ in claimed]
    assert [(r["event_id"], r["offset"]) for r in got] == [
        ("default", "1h"),
        ("default", "10m"),
        ("own", "1m"),
    ]
    await nothing_more(ws)


async def test_a_reminder_already_due_fires_at_once(client: Client, clock: FakeClock) -> None:
    # Created 2 minutes ahead with the default 5-minute offset: due 3 minutes ago.
    ws = await listen(client)
    await post(client, {"id": "soon", "title": "Soon", "timestamp": at(2)})
    reminder = (await next_reminder(ws))["reminder"]  # sent by the timer, unasked
    assert reminder["due"] == at(-3)
    assert reminder["late"] is False
    assert reminder["starts_in_seconds"] == 120.0
    assert reminder["message"] == "Event 'Soon' starts in 2 minutes, at 12:02 UTC"


async def test_moving_an_event_rearms_its_reminders(client: Client, clock: FakeClock) -> None:
    ws = await listen(client)
    await post(client, {"id": "a", "timestamp": at(10)})
    response = await client.patch("/events/a", json={"timestamp": at(20)})
    assert response.status == 200
    clock.advance(5 * 60)
    assert await service(client).fire_due() == []  # the old due time never fires
    clock.advance(10 * 60)
    assert len(await service(client).fire_due()) == 1
    assert (await next_reminder(ws))["reminder"]["starts_at"] == at(20)
    states = [(r["due"], r["state"]) for r in await reminders_of(client, "a")]
    assert states == [(at(5), "cancelled"), (at(15), "sent")]


async def test_changing_remind_takes_effect_at_once(client: Client, clock: FakeClock) -> None:
    await post(client, {"id": "a", "timestamp": at(30)})
    await client.patch("/events/a", json={"remind": ["10m", "1m"]})
    pending = [(r["offset"], r["state"]) for r in await reminders_of(client, "a")]
    assert pending == [("10m", "pending"), ("5m", "cancelled"), ("1m", "pending")]
    clock.advance(25 * 60)
    assert [r.offset for r in await service(client).fire_due()] == [600]


async def test_deleting_an_event_cancels_its_reminders(client: Client, clock: FakeClock) -> None:
    ws = await listen(client)
    await post(client, {"id": "a", "timestamp": at(10)})
    assert (await client.delete("/events/a")).status == 204
    clock.advance(10 * 60)
    assert await service(client).fire_due() == []
    await nothing_more(ws)
    listing = await (await client.get("/reminders", params={"state": "cancelled"})).json()
    assert [(r["event_id"], r["due"]) for r in listing["reminders"]] == [("a", at(5))]


async def test_several_offsets_fire_in_due_order(client: Client, clock: FakeClock) -> None:
    ws = await listen(client)
    await post(client, {"id": "a", "timestamp": at(60), "remind": ["1m", "30m", "5m"]})
    for minutes, offset in ((30, "30m"), (25, "5m"), (4, "1m")):
        clock.advance(minutes * 60)
        assert len(await service(client).fire_due()) == 1
        assert (await next_reminder(ws))["reminder"]["offset"] == offset
    await post(client, {"id": "b", "timestamp": at(120), "remind": ["1m", "30m", "5m"]})
    clock.advance(60 * 60)  # all three due at once: still sent in due order
    await service(client).fire_due()
    got = [await next_reminder(ws) for _ in range(3)]
    assert [m["reminder"]["offset"] for m in got] == ["30m", "5m", "1m"]
    assert [m["position"] for m in got] == sorted(m["position"] for m in got)


async def test_reminders_due_during_downtime_are_sent_late_or_missed(
    make_client: MakeClient, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    config = make_config(reminders={"late_grace": 600})
    engine = reminding_engine(config)
    first = await make_client(config, engine)
    await post(
        first,
        [
            {"id": "late", "timestamp": at(20)},  # due at 15: sent late at 16
            {"id": "started", "timestamp": at(10)},  # due at 5, started at 10: missed
            {"id": "stale", "timestamp": at(30), "remind": ["25m"]},  # due at 5: too late
        ],
    )
    await first.close()  # no daemon runs from here
    clock.advance(16 * 60)
    caplog.set_level(logging.INFO, "eventd.reminders")
    second = await make_client(config, engine)  # its start-up claim catches up
    ws = await listen(second, since=0)
    message = await next_reminder(ws)
    assert message["reminder"]["event_id"] == "late"
    assert message["reminder"]["late"] is True
    await nothing_more(ws)
    missed = await (await second.get("/reminders", params={"state": "missed"})).json()
    assert [r["event_id"] for r in missed["reminders"]] == ["stale", "started"]  # by id
    assert all(r["sent_at"] == at(16) for r in missed["reminders"])
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert sum("missed" in line for line in logged) == 2, logged


async def test_the_timer_stops_with_the_app(client: Client) -> None:
    task = service(client)._task
    assert task is not None and not task.done()
    await client.close()
    assert task.done()


async def test_the_message_gives_the_start_in_reminders_timezone(
    make_reminding: Any, clock: FakeClock
) -> None:
    client = await make_reminding(make_config(reminders={"timezone": "Europe/Paris"}))
    ws = await listen(client)
    await post(client, {"title": "Standup", "timestamp": at(10)})
    clock.advance(5 * 60)
    await service(client).fire_due()
    message = (await next_reminder(ws))["reminder"]["message"]
    assert message == "Event 'Standup' starts in 5 minutes, at 14:10 CEST"


async def test_moving_an_event_earlier_wakes_the_sleeping_timer(
    client: Client, clock: FakeClock
) -> None:
    ws = await listen(client)
    await post(client, {"id": "a", "timestamp": at(60)})  # the timer sleeps until 55
    clock.advance(60)
    await client.patch("/events/a", json={"timestamp": at(4)})  # due 1 minute ago: at once
    message = await next_reminder(ws)  # claimed by the woken timer, nobody called fire_due
    assert (message["reminder"]["due"], message["reminder"]["late"]) == (at(-1), False)
