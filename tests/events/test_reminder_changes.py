"""A sent reminder is a change of the feed, but not of an event: `events` subscribers never
see one, live or replayed."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from eventd.feed.hub import Hub
from eventd.feed.replay import Subscription
from eventd.keys import WORKER
from eventd.store.commands import ClaimDue
from eventd.store.memory import MemoryEngine
from tests.conftest import NOW, MakeClient
from tests.feed.test_replay import Recorder
from tests.store.test_reminders import DUE, GRACE, ev
from tests.ws.test_websocket import changes, connect, post, subscribe

Client = TestClient[Any, Any]
SECOND = 1_000_000
MINUTE = 60 * SECOND


async def send_reminder(client: Client) -> int:
    """Claim the reminder of event "a" (due in 5 minutes) now; return its feed position."""
    [sent] = await client.app[WORKER].call(ClaimDue(NOW + 5 * MINUTE, 10, 3600 * SECOND))
    assert sent.state == "sent" and sent.position is not None
    return sent.position


async def test_a_live_events_subscriber_gets_no_reminder(make_client: MakeClient) -> None:
    client = await make_client()
    ws = await connect(client)
    start = (await subscribe(ws))["position"]
    await post(client, {"id": "a", "timestamp": (NOW + 10 * MINUTE) / SECOND})
    reminder = await send_reminder(client)
    await post(client, {"id": "b"})
    got = await changes(ws, 2)
    assert [(m["op"], m["event"]["id"], m["position"]) for m in got] == [
        ("created", "a", start + 1),
        ("created", "b", start + 3),
    ]
    assert reminder == start + 2


async def test_a_replay_with_since_skips_reminders(make_client: MakeClient) -> None:
    client = await make_client()
    ws = await connect(client)
    start = (await subscribe(ws))["position"]
    await post(client, {"id": "a", "timestamp": (NOW + 10 * MINUTE) / SECOND})
    await send_reminder(client)
    await post(client, {"id": "b"})
    await changes(ws, 2)
    again = await connect(client)
    await subscribe(again, since=start)
    await post(client, {"id": "c"})
    got = await changes(again, 3)
    assert [(m["op"], m["event"]["id"]) for m in got] == [
        ("created", "a"),
        ("created", "b"),
        ("created", "c"),
    ]


async def test_a_subscription_matches_only_its_ops() -> None:
    engine = MemoryEngine()
    await engine.put_many([ev("a")])
    await engine.claim_due(DUE, 10, GRACE)
    await engine.update("a", {"title": "t"}, DUE)
    await engine.delete("a")
    feed = (await engine.read_changes(0, 10)).changes
    assert [c.op for c in feed] == ["created", "reminder", "updated", "deleted"]
    hub = Hub(engine)
    some = Subscription(hub, Recorder(), ops=frozenset({"created", "updated"}))
    assert [some.matches(c) for c in feed] == [True, False, True, False]
    every = Subscription(hub, Recorder())
    assert all(every.matches(c) for c in feed)
