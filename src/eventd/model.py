"""The event: what clients send (`EventIn`), what the store keeps (`Event`), what is answered."""

from __future__ import annotations

import functools
import math
import os
import re
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import msgspec
from msgspec import UNSET, Raw, UnsetType

from eventd import nesting
from eventd.config import MAX_REMIND_OFFSET, Limits
from eventd.errors import InvalidField
from eventd.times import TimeError, format_duration, format_us, parse_duration, parse_timestamp

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:~-]{0,127}")
# A number that may not decode: 309+ digits (past a float's range if it has a fraction, or
# past int()'s 4,300 digits) or an exponent. False alarms only cost a decode.
_RISKY_NUMBER = re.compile(rb"[0-9]{309}|[0-9][eE]")
MAX_REMIND_OFFSETS = 16
NULL = Raw(b"null")

TimeInput = str | int | float
TIME_FIELDS = ("timestamp", "at", "datetime")  # the names an event's time may be given by
# The count of offsets is checked after decoding, so that the error names the first extra one.
Remind = list[str | int]


class _IdSource:
    """128 random bits per id from the OS, read 256 ids at a time to spare a system call each."""

    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def __call__(self) -> str:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(16 * 256), 0
        self._at += 16
        return self._pool[self._at - 16 : self._at].hex()


new_id = _IdSource()  # new_id() returns a fresh server-assigned id: 32 hex digits


class EventIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True, gc=False):
    """An event as a client sends it; UNSET marks a field that was not given."""

    # gc=False: it never takes part in a cycle, and an import decodes many at once, which
    # the cyclic collector would otherwise count and go through (a long pause: issue 20).

    id: str | UnsetType = UNSET
    timestamp: TimeInput | UnsetType = UNSET
    at: TimeInput | UnsetType = UNSET
    datetime: TimeInput | UnsetType = UNSET
    type: str | UnsetType = UNSET
    event_type: str | UnsetType = UNSET
    key: str | UnsetType | None = UNSET
    title: str | UnsetType | None = UNSET
    description: str | UnsetType | None = UNSET
    value: float | UnsetType | None = UNSET
    data: Raw | UnsetType = UNSET
    payload: Raw | UnsetType = UNSET
    remind: Remind | UnsetType | None = UNSET
    # Server-set fields are accepted so that a stored event can be sent back unchanged.
    created_at: str | UnsetType = UNSET
    updated_at: str | UnsetType = UNSET


class Event(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A stored event. Times are microseconds since the epoch (UTC)."""

    id: str
    ts: int
    seq: int
    type: str
    key: str | None
    title: str | None
    description: str | None
    value: float | None
    data: Raw
    remind: tuple[int, ...] | None
    created: int
    updated: int

    @property
    def position(self) -> tuple[int, int]:
        """Return the event's place in the store-wide order."""
        return (self.ts, self.seq)

    def same_content(self, other: Event) -> bool:
        """Tell whether two events carry the same client-given content (ids aside)."""
        return (
            self.ts == other.ts
            and self.type == other.type
            and self.key == other.key
            and self.title == other.title
            and self.description == other.description
            and self.value == other.value
            and self.remind == other.remind
            and _same_json(self.data, other.data)
        )


class EventOut(msgspec.Struct):
    """An event as it is answered."""

    id: str
    timestamp: str
    type: str
    key: str | None
    title: str | None
    description: str | None
    value: float | None
    data: Raw
    remind: list[str] | None
    created_at: str
    updated_at: str


# The fields a client may change, in their stored form; `Event.id`, `seq` and the
# server times are not among them.
# What a replacement (PUT) sets for the content fields it does not give.
_DEFAULTS: dict[str, Any] = {
    "type": "event",
    "key": None,
    "title": None,
    "description": None,
    "value": None,
    "data": NULL,
    "remind": None,
}
CONTENT_FIELDS = ("ts", "type", "key", "title", "description", "value", "data", "remind")


def to_out(event: Event) -> EventOut:
    """Return the answered form of a stored event."""
    timestamp = format_us(event.ts)
    # An event posted without a time of its own was created at its timestamp.
    created_at = timestamp if event.created == event.ts else _format_created(event.created)
    return EventOut(
        id=event.id,
        timestamp=timestamp,
        type=event.type,
        key=event.key,
        title=event.title,
        description=event.description,
        value=event.value,
        data=event.data,
        remind=None if event.remind is None else [format_duration(s) for s in event.remind],
        created_at=created_at,
        updated_at=created_at if event.updated == event.created else format_us(event.updated),
    )


# The events of one batch share their creation time: format it once.
_format_created = functools.lru_cache(maxsize=16)(format_us)


@dataclass(frozen=True, slots=True)
class Validator:
    """Turns `EventIn` into stored field values, raising `InvalidField` naming the field."""

    limits: Limits
    naive_tz: tzinfo | None

    def new_event(self, given: EventIn, *, id: str, now: int) -> Event:
        """Build a new event; fields not given take their defaults."""
        fields = {**_DEFAULTS, "ts": now, **self.changes(given, require_timestamp=False)}
        return Event(id=id, seq=-1, created=now, updated=now, **fields)

    def replacement(self, given: EventIn) -> dict[str, Any]:
        """Return every content field for a full replacement (PUT)."""
        changes = self.changes(given, require_timestamp=True)
        return _DEFAULTS | changes

    def changes(self, given: EventIn, *, require_timestamp: bool) -> dict[str, Any]:
        """Return the content fields that `given` sets, validated, in stored form."""
        # Written out field by field: this runs for every event of a bulk import.
        out: dict[str, Any] = {}
        self._time(given, out, require_timestamp)
        self._texts(given, out)
        if given.value is not UNSET:
            out["value"] = _check_value(given.value)
        if (given.data is not UNSET or given.payload is not UNSET) and (
            raw_data := _one_of(given, "data", "payload")
        ) is not None:
            out["data"] = self._data(*raw_data)
        if given.remind is not UNSET:
            out["remind"] = _check_remind(given.remind)
        return out

    def _time(self, given: EventIn, out: dict[str, Any], required: bool) -> None:
        if given.at is UNSET and given.datetime is UNSET:
            raw_ts = None if given.timestamp is UNSET else ("timestamp", given.timestamp)
        else:
            raw_ts = _one_of(given, *TIME_FIELDS)
        if raw_ts is not None:
            name, value = raw_ts
            if value is None:
                raise InvalidField("must not be null", field=name)
            out["ts"] = _check_time(name, value, self.naive_tz)
        elif required:
            raise InvalidField("is required", field="timestamp")

    def _texts(self, given: EventIn, out: dict[str, Any]) -> None:
        limits = self.limits
        if given.event_type is UNSET:
            if given.type is not UNSET:
                out["type"] = self._string("type", given.type, limits.max_type_length, False)
        elif (raw_type := _one_of(given, "type", "event_type")) is not None:
            name, value = raw_type
            out["type"] = self._string(name, value, limits.max_type_length, False)
        if given.key is not UNSET:
            out["key"] = self._string("key", given.key, limits.max_key_length, True)
        if given.title is not UNSET:
            out["title"] = self._string("title", given.title, limits.max_text_length, True)
        if given.description is not UNSET:
            text = given.description
            out["description"] = self._string("description", text, limits.max_text_length, True)

    def _string(self, name: str, value: Any, limit: int, nullable: bool) -> str | None:
        if value is None and nullable:
            return None
        if not isinstance(value, str):
            raise InvalidField("must be a string", field=name)
        if not value and not nullable:
            raise InvalidField("must not be empty", field=name)
        if len(value) > limit:
            raise InvalidField(f"is longer than {limit} characters", field=name)
        return value

    def _data(self, name: str, raw: Raw) -> Raw:
        text, limits = bytes(raw), self.limits
        # Compact JSON keeps every bracket, so their count bounds its size from below, and
        # its depth from above.
        brackets = text.count(b"[") + text.count(b"{")
        if brackets > limits.max_data_bytes:
            raise InvalidField(
                f"is more than {limits.max_data_bytes} bytes of JSON; at most "
                f"{limits.max_data_bytes} allowed",
                field=name,
            )
        # Measured on the bytes before format() and decode(), which recurse once per level.
        if brackets > limits.max_data_depth and nesting.deeper_than(text, limits.max_data_depth):
            raise InvalidField(f"is nested deeper than {limits.max_data_depth} levels", field=name)
        compact = msgspec.json.format(text, indent=-1)
        if len(compact) > limits.max_data_bytes:
            raise InvalidField(
                f"is {len(compact)} bytes of JSON; at most {limits.max_data_bytes} allowed",
                field=name,
            )
        if _RISKY_NUMBER.search(compact) is not None:
            _check_numbers(name, compact)
        return Raw(compact)


def check_id(value: object, field: str = "id") -> str:
    """Return a valid client-supplied id or raise `InvalidField`."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise InvalidField(
            "must be 1-128 characters of letters, digits and . _ : ~ - (starting with a "
            "letter or digit)",
            field=field,
        )
    return value


def has_time(given: EventIn) -> bool:
    """Tell whether `given` carries a time, under any of its names."""
    return any(getattr(given, name) is not UNSET for name in TIME_FIELDS)


def _one_of(given: EventIn, *names: str) -> tuple[str, Any] | None:
    found = None
    for name in names:
        if (value := getattr(given, name)) is not UNSET:
            if found is not None:
                raise InvalidField(
                    f"{found[0]} and {name} are the same field; give only one", field=name
                )
            found = (name, value)
    return found


def _check_time(name: str, value: TimeInput, naive_tz: tzinfo | None) -> int:
    try:
        return parse_timestamp(value, naive_tz)
    except TimeError as exc:
        raise InvalidField(str(exc), field=name) from exc


def _check_value(value: float | None) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value):
        raise InvalidField("must be a finite number", field="value")
    return float(value)


def _check_remind(offsets: list[str | int] | None) -> tuple[int, ...] | None:
    if offsets is None:
        return None
    if len(offsets) > MAX_REMIND_OFFSETS:
        message = f"at most {MAX_REMIND_OFFSETS} reminder offsets are allowed"
        raise InvalidField(message, field=f"remind[{MAX_REMIND_OFFSETS}]")
    seconds = set()
    for i, offset in enumerate(offsets):
        try:
            seconds.add(parse_duration(offset))
        except TimeError as exc:
            raise InvalidField(str(exc), field=f"remind[{i}]") from exc
        if max(seconds) > MAX_REMIND_OFFSET:  # the same bound as durations, stated for reminders
            raise InvalidField("a reminder offset may be at most 366 days", field=f"remind[{i}]")
    return tuple(sorted(seconds, reverse=True))


def _check_numbers(name: str, compact: bytes) -> None:
    """Refuse numbers that readers cannot decode: past a float's range, or 4,301+ digits."""
    try:
        msgspec.json.decode(compact)
    except msgspec.ValidationError:
        raise InvalidField(
            "holds a number out of range (beyond about ±1.8e308, or of more than 4,300 digits)",
            field=name,
        ) from None


def _same_json(a: Raw, b: Raw) -> bool:
    if bytes(a) == bytes(b):
        return True
    # Object key order does not make content different. Stored data is at most
    # `limits.max_data_depth` deep and its numbers decode (see `Validator._data`); data
    # stored before that was checked may not, and then only equal bytes are the same.
    canonical = msgspec.json.Encoder(order="sorted")
    try:
        return canonical.encode(msgspec.json.decode(a)) == canonical.encode(msgspec.json.decode(b))
    except msgspec.ValidationError:
        return False
