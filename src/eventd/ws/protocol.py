"""Messages of the /ws protocol and its close codes (documented in docs/websocket.md)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

CLOSE_GOING_AWAY = 1001  # the daemon stops
CLOSE_SLOW_CONSUMER = 4008  # the subscriber fell `feed.send_queue` messages behind
CHANNELS = frozenset({"events", "stats"})
MAX_MESSAGE_BYTES = 64 * 1024
# Positions are non-negative and fit a signed 64-bit integer on every engine.
Position = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]


class Filter(msgspec.Struct, forbid_unknown_fields=True):
    type: str | list[str] | None = None
    key: str | list[str] | None = None


class Subscribe(msgspec.Struct, tag="subscribe", forbid_unknown_fields=True):
    id: str
    channels: list[str] = msgspec.field(default_factory=lambda: ["events"])
    filter: Filter | None = None
    since: Position | None = None
    epoch: str | None = None  # the epoch `since` belongs to (from `welcome` or `subscribed`)
    windows: list[str] | None = None  # stats: the windows wanted (default: all)


class Unsubscribe(msgspec.Struct, tag="unsubscribe", forbid_unknown_fields=True):
    id: str


class Ping(msgspec.Struct, tag="ping", forbid_unknown_fields=True):
    id: str | int | None = None


ClientMessage = Subscribe | Unsubscribe | Ping
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
]


def error(code: ErrorCode, message: str, id: str | None = None) -> bytes:
    return encode({"type": "error", "code": code, "message": message, "id": id})


def as_set(value: str | list[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset([value] if isinstance(value, str) else value)
