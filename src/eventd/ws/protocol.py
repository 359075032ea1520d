"""Messages of the /ws protocol and its close codes (documented in docs/websocket.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, NamedTuple

import msgspec

from eventd.model import to_out
from eventd.store.base import Change
from eventd.times import format_duration, format_us

CLOSE_GOING_AWAY = 1001  # the daemon stops
CLOSE_UNAUTHORIZED = 4001  # a bad token, or none sent within `auth.handshake_timeout`
CLOSE_SLOW_CONSUMER = 4008  # the subscriber fell `feed.send_queue` messages behind
CLOSE_RATE_LIMITED = 4029  # `limits.ws_strikes` messages in a row over `limits.ws_rate`
MAX_MESSAGE_BYTES = 64 * 1024
# Positions are non-negative and fit a signed 64-bit integer on every engine.
Position = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class Filter(msgspec.Struct, forbid_unknown_fields=True):
    type: str | list[str] | None = None
    key: str | list[str] | None = None
    data: dict[str, Any] | None = None  # path in the event's data -> the value it must have


class Subscribe(msgspec.Struct, tag="subscribe", forbid_unknown_fields=True):
    id: str
    channels: list[str] = msgspec.field(default_factory=lambda: ["events"])
    filter: Filter | None = None
    since: Position | None = None
    epoch: str | None = None  # the epoch `since` belongs to (from `welcome` or `subscribed`)
    windows: list[str] | None = None  # stats: the windows wanted (default: all)
    field: str | None = None  # transitions: the field path whose transitions are pushed
    window: str | None = None  # transitions: how far back from now they are counted


class Unsubscribe(msgspec.Struct, tag="unsubscribe", forbid_unknown_fields=True):
    id: str


class Ping(msgspec.Struct, tag="ping", forbid_unknown_fields=True):
    id: str | int | None = None


class Auth(msgspec.Struct, tag="auth", forbid_unknown_fields=True):
    token: str


ClientMessage = Subscribe | Unsubscribe | Ping | Auth
decode_client = msgspec.json.Decoder(ClientMessage).decode


class _Addressed(msgspec.Struct):
    id: str | None = None


_decode_addressed = msgspec.json.Decoder(_Addressed).decode


def request_id(text: str) -> str | None:
    """Return the string `id` of a message that was refused, if it has one."""
    try:
        return _decode_addressed(text).id
    except (msgspec.DecodeError, RecursionError):  # ValidationError is a DecodeError
        return None


encode = msgspec.json.Encoder().encode

ErrorCode = Literal[
    "bad_json",
    "bad_message",
    "unknown_subscription",
    "duplicate_subscription",
    "too_many_subscriptions",
    "unavailable",
    "forbidden",
    "rate_limited",
]


def error_message(code: ErrorCode, message: str, id: str | None = None) -> dict[str, Any]:
    """Return an `error` message."""
    return {"type": "error", "code": code, "message": message, "id": id}


def stats_message(
    sub: str, server_time: str, stats_type: str | None, windows: dict[str, Any]
) -> dict[str, Any]:
    """Return a `stats` message: the windows of a subscription that changed."""
    return {
        "type": "stats",
        "sub": sub,
        "server_time": server_time,
        "stats_type": stats_type,
        "windows": windows,
    }


def transitions_message(
    sub: str, field: str, start: str, end: str, transitions: list[dict[str, Any]]
) -> dict[str, Any]:
    """Return a `transitions` message: the pairs of a subscription whose figures changed."""
    return {
        "type": "transitions",
        "sub": sub,
        "field": field,
        "start": start,
        "end": end,
        "transitions": transitions,
    }


def history_truncated(
    id: str, since: int | None, oldest: int, head: int, epoch: str | None, reason: str
) -> dict[str, Any]:
    """Return a `history_truncated` message: the feed cannot continue from `since`."""
    return {
        "type": "history_truncated",
        "id": id,
        "since": since,
        "oldest": oldest,
        "head": head,
        "epoch": epoch,
        "reason": reason,
    }


def error(code: ErrorCode, message: str, id: str | None = None) -> bytes:
    """Return an `error` message, encoded."""
    return encode(error_message(code, message, id))


# The text of a reminder's `message` member, made by the feature that sends reminders.
Describe = Callable[[Change], str]


class Heads(NamedTuple):
    """The start of every message of one subscription, by the kind of change it carries."""

    change: bytes
    reminder: bytes


def heads(id: str) -> Heads:
    """Return the starts of the `change` and `reminder` messages of the subscription `id`."""
    sub = encode(id)
    return Heads(b'{"type":"change","sub":' + sub + b",", b'{"type":"reminder","sub":' + sub + b",")


def change_head(id: str) -> bytes:
    """Return the start of every `change` message of the subscription `id`."""
    return heads(id).change


def change_body(change: Change) -> bytes:
    """Return a change as the JSON members every `change` message shares."""
    event = None if change.event is None else to_out(change.event)
    members: dict[str, Any] = {"position": change.position, "op": change.op, "event": event}
    if change.epoch is not None:  # a `cleared` change names the epoch it begins
        members["epoch"] = change.epoch
    body = encode(members)
    return body[1:]  # '"position":…}' without the opening brace


def reminder_body(change: Change, describe: Describe) -> bytes:
    """Return a `reminder` change as the JSON members every `reminder` message shares."""
    reminder, event = change.reminder, change.event
    assert reminder is not None and event is not None, "a reminder change carries both"
    sent_at = reminder.due if reminder.sent_at is None else reminder.sent_at
    members = {
        "position": change.position,
        "reminder": {
            "event_id": reminder.event_id,
            "offset": format_duration(reminder.offset),
            "offset_seconds": reminder.offset,
            "due": format_us(reminder.due),
            "starts_at": format_us(reminder.ts),
            "starts_in_seconds": (reminder.ts - sent_at) / 1e6,
            "late": reminder.late,
            "message": describe(change),
        },
        "event": to_out(event),
    }
    return encode(members)[1:]


def no_text(change: Change) -> str:
    """Return an empty `message` text (a socket no reminder channel described)."""
    return ""


class _RecentChanges:
    """Serialise a change once for all subscribers.

    Live fan-out asks for one change's body from every matching subscription in a row; the
    subscriptions that replay (every client resuming after a restart) ask for the same
    changes later, one subscription after another. So the bodies of the most recent changes
    are kept, by position, up to `count` of them and `size` bytes. A position can come back
    with other content (a store that lost its history), so an entry serves only an equal
    change.
    """

    def __init__(self, count: int = 4096, size: int = 16 * 1024 * 1024) -> None:
        self._bodies: dict[int, tuple[Change, bytes]] = {}  # oldest first
        self._count = count
        self._size = size
        self._bytes = 0

    def message(self, head: bytes, change: Change) -> bytes:
        """Return the `change` message that begins with `head`."""
        entry = self._bodies.get(change.position)
        if entry is None or (entry[0] is not change and entry[0] != change):
            entry = (change, change_body(change))
            self._keep(change.position, entry)
        return head + entry[1]

    def _keep(self, position: int, entry: tuple[Change, bytes]) -> None:
        replaced = self._bodies.pop(position, None)
        if replaced is not None:
            self._bytes -= len(replaced[1])
        self._bodies[position] = entry
        self._bytes += len(entry[1])
        while len(self._bodies) > self._count or self._bytes > self._size:
            oldest = next(iter(self._bodies))
            self._bytes -= len(self._bodies.pop(oldest)[1])

    def feed_message(self, heads: Heads, change: Change, describe: Describe = no_text) -> bytes:
        """Return the message of a feed change: a `reminder`, or else a `change` message."""
        if change.op != "reminder":
            return self.message(heads.change, change)
        entry = self._bodies.get(change.position)
        # Only for the very change: the text depends on the app's `describe` too, and the
        # same change object belongs to one app's hub (a replay from another store re-renders).
        if entry is None or entry[0] is not change:
            entry = (change, reminder_body(change, describe))
            self._keep(change.position, entry)
        return heads.reminder + entry[1]


_recent = _RecentChanges()
change_message = _recent.message
feed_message = _recent.feed_message


def as_set(value: str | list[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)
