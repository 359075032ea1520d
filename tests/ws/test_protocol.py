"""The bytes of `change` messages: the same as before the split, and serialised once."""

from __future__ import annotations

import json

import pytest

from eventd.model import to_out
from eventd.store.base import Change, Reminder
from eventd.ws import protocol
from tests.store.test_conformance import ev


def test_a_change_message_is_the_subscription_head_and_the_change() -> None:
    event = ev("a")
    message = protocol.change_message(protocol.change_head("s"), Change(3, "created", event))
    assert message.startswith(b'{"type":"change","sub":"s","position":3,')
    assert json.loads(message) == {
        "type": "change",
        "sub": "s",
        "position": 3,
        "op": "created",
        "event": json.loads(protocol.encode(to_out(event))),
    }
    cleared = protocol.change_message(protocol.change_head("t"), Change(4, "cleared", None, "e"))
    assert (
        cleared
        == b'{"type":"change","sub":"t","position":4,"op":"cleared","event":null,"epoch":"e"}'
    )


def test_a_change_is_serialised_once_for_every_subscription(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bodies: list[int] = []
    body = protocol.change_body

    def counting(change: Change) -> bytes:
        bodies.append(change.position)
        return body(change)

    monkeypatch.setattr(protocol, "change_body", counting)
    first, second = Change(1, "created", ev("a")), Change(2, "created", ev("b"))
    heads = [protocol.change_head(str(n)) for n in range(100)]
    for change in (first, second):
        messages = {protocol.change_message(head, change) for head in heads}
        assert len(messages) == 100
    assert bodies == [1, 2]


def test_replaying_subscriptions_share_the_bodies_of_recent_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Subscriptions that resume release the same changes one after another: each change
    is still serialised once, whether they hold the hub's objects or read their own."""
    bodies: list[int] = []
    body = protocol.change_body

    def counting(change: Change) -> bytes:
        bodies.append(change.position)
        return body(change)

    monkeypatch.setattr(protocol, "change_message", protocol._RecentChanges().message)
    monkeypatch.setattr(protocol, "change_body", counting)
    held = [Change(n, "created", ev(f"e{n}")) for n in range(1, 5)]
    for sub in range(3):
        head = protocol.change_head(str(sub))
        for change in held:
            assert protocol.change_message(head, change) == head + body(change)
        read_again = [Change(c.position, c.op, c.event) for c in held]  # a page of its own
        for change in read_again:
            protocol.change_message(head, change)
    assert bodies == [1, 2, 3, 4]
    # A position that comes back with other content (a store that lost its history).
    other = Change(2, "deleted", ev("x"))
    assert protocol.change_message(b"", other) == body(other)
    assert bodies == [1, 2, 3, 4, 2]


def test_the_kept_bodies_are_bounded_in_count_and_bytes() -> None:
    recent = protocol._RecentChanges(count=3, size=10_000)
    for n in range(1, 10):
        recent.message(b"", Change(n, "created", ev(f"e{n}")))
    assert list(recent._bodies) == [7, 8, 9]
    small = protocol._RecentChanges(count=100, size=1)
    small.message(b"", Change(1, "created", ev("a")))
    assert small._bodies == {} and small._bytes == 0


def test_a_reminder_message_is_the_subscription_head_and_the_reminder() -> None:
    event = ev("a", ts=1_800_000_000_000_000, title="Standup")
    reminder = Reminder(
        "a", event.ts, 300, event.ts - 300_000_000, 0, "event", None, "sent",
        sent_at=event.ts - 299_800_000, late=False, position=7,
    )  # fmt: skip
    change = Change(7, "reminder", event, reminder=reminder)
    message = protocol.feed_message(protocol.heads("s"), change, lambda c: "text")
    assert message.startswith(b'{"type":"reminder","sub":"s","position":7,"reminder":{')
    assert json.loads(message) == {
        "type": "reminder",
        "sub": "s",
        "position": 7,
        "reminder": {
            "event_id": "a",
            "offset": "5m",
            "offset_seconds": 300,
            "due": "2027-01-15T07:55:00.000000Z",
            "starts_at": "2027-01-15T08:00:00.000000Z",
            "starts_in_seconds": 299.8,
            "late": False,
            "message": "text",
        },
        "event": json.loads(protocol.encode(to_out(event))),
    }


def test_a_reminder_is_described_once_for_every_subscription() -> None:
    event = ev("b", ts=1_800_000_000_000_000)
    reminder = Reminder("b", event.ts, 60, event.ts - 60_000_000, 0, "event", None, "sent", 1)
    change = Change(123_456, "reminder", event, reminder=reminder)
    described: list[int] = []

    def describe(change: Change) -> str:
        described.append(change.position)
        return "x"

    messages = {protocol.feed_message(protocol.heads(str(n)), change, describe) for n in range(50)}
    assert len(messages) == 50
    assert described == [123_456]
    # The other kinds of change still make `change` messages.
    created = Change(123_457, "created", event)
    assert protocol.feed_message(protocol.heads("s"), created, describe).startswith(
        b'{"type":"change","sub":"s","position":123457,"op":"created"'
    )
