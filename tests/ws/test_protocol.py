"""The bytes of `change` messages: the same as before the split, and serialised once."""

from __future__ import annotations

import json

import pytest

from eventd.model import to_out
from eventd.store.base import Change
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
