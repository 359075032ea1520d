"""How the mongo engine stores eventd's values: events, feed entries and reminders as documents.

Pure conversions and decisions, without a database call.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from eventd.model import Event
from eventd.store.base import LATE_AFTER, Change, Reminder, ReminderPosition

US = 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A pending reminder inside its event's document: {"o": offset s, "d": due µs, "a": armed µs}.
Entry = dict[str, int]


def to_document(
    event: Event, version: int, pending: Iterable[Entry] = (), tokens: Iterable[str] = ()
) -> dict[str, Any]:
    """Return the stored document of an event with its pending reminders and the tokens of
    its indexed fields' values (see `search.py`)."""
    entries = sorted(pending, key=lambda entry: (entry["d"], entry["o"]))
    doc: dict[str, Any] = {
        "_id": event.id,
        "t": event.ts,
        "seq": event.seq,
        "time": _EPOCH + timedelta(milliseconds=event.ts // 1000),
        "type": event.type,
        "key": event.key,
        "title": event.title,
        "description": event.description,
        "value": event.value,
        "data": bytes(event.data).decode(),
        "remind": None if event.remind is None else list(event.remind),
        "created": event.created,
        "updated": event.updated,
        "v": version,
        "rem": entries,
        "f": list(tokens),
    }
    if entries:
        doc["rn"] = entries[0]["d"]  # the next due time: absent when nothing is pending
    return doc


def from_document(doc: Mapping[str, Any]) -> Event:
    """Return the event of a stored document."""
    remind = doc["remind"]
    return Event(
        id=doc["_id"],
        ts=doc["t"],
        seq=doc["seq"],
        type=doc["type"],
        key=doc["key"],
        title=doc["title"],
        description=doc["description"],
        value=doc["value"],
        data=msgspec.Raw(doc["data"].encode()),
        remind=None if remind is None else tuple(remind),
        created=doc["created"],
        updated=doc["updated"],
    )


def pending_of(doc: Mapping[str, Any]) -> list[Reminder]:
    """Return the pending reminders kept in an event's document."""
    return [
        Reminder(doc["_id"], doc["t"], e["o"], e["d"], e["a"], doc["type"], doc["key"])
        for e in doc.get("rem") or ()
    ]


def entry(reminder: Reminder) -> Entry:
    """Return the entry of a pending reminder in its event's document."""
    return {"o": reminder.offset, "d": reminder.due, "a": reminder.armed}


def offsets_of(event: Event, default_offsets: tuple[int, ...]) -> tuple[int, ...]:
    """Return the offsets of an event's reminders: its `remind`, or else the defaults."""
    return default_offsets if event.remind is None else event.remind


def plan(
    event: Event, pending: list[Reminder], default_offsets: tuple[int, ...]
) -> tuple[list[Reminder], list[Reminder], list[Reminder]]:
    """Split a written event's reminders into (staying, cancelled, candidates to arm).

    `pending` are the event's pending reminders before the write. A candidate is armed unless
    it exists already in another state than `cancelled`, which only the records can tell.
    """
    offsets = offsets_of(event, default_offsets)
    wanted = {(event.ts, offset) for offset in offsets}
    staying = [
        msgspec.structs.replace(r, type=event.type, key=event.key)
        for r in pending
        if (r.ts, r.offset) in wanted
    ]
    cancelled = [
        msgspec.structs.replace(r, state="cancelled")
        for r in pending
        if (r.ts, r.offset) not in wanted
    ]
    if event.ts <= event.updated:  # the event started: it gets no new reminder
        return staying, cancelled, []
    kept = {r.offset for r in staying}
    candidates = [
        Reminder(event.id, event.ts, o, event.ts - o * US, event.updated, event.type, event.key)
        for o in offsets
        if o not in kept
    ]
    return staying, cancelled, candidates


def settle(reminder: Reminder, now: int, late_grace: int) -> Reminder:
    """Return a due reminder as its claim at `now` leaves it: `sent` or `missed`."""
    since = now - max(reminder.due, reminder.armed)
    if now >= reminder.ts or since > late_grace:
        return msgspec.structs.replace(reminder, state="missed", sent_at=now)
    return msgspec.structs.replace(reminder, state="sent", sent_at=now, late=since > LATE_AFTER)


def identity(reminder: Reminder) -> dict[str, Any]:
    """Return the filter of a reminder's record: its identity."""
    return {"e": reminder.event_id, "t": reminder.ts, "o": reminder.offset}


def to_record(reminder: Reminder, claim: str | None = None) -> dict[str, Any]:
    """Return the record of a reminder that is no longer pending; `claim` names its claim."""
    return identity(reminder) | {
        "d": reminder.due,
        "a": reminder.armed,
        "type": reminder.type,
        "key": reminder.key,
        "s": reminder.state,
        "at": reminder.sent_at,
        "late": reminder.late,
        "p": reminder.position,
        "c": claim,
    }


def from_record(doc: Mapping[str, Any]) -> Reminder:
    """Return the reminder of a record."""
    return Reminder(
        event_id=doc["e"],
        ts=doc["t"],
        offset=doc["o"],
        due=doc["d"],
        armed=doc["a"],
        type=doc["type"],
        key=doc["key"],
        state=doc["s"],
        sent_at=doc["at"],
        late=doc["late"],
        position=doc["p"],
    )


def after(position: ReminderPosition, due: str, event_id: str, offset: str) -> dict[str, Any]:
    """Return the filter of reminders after a keyset position, given the fields' names."""
    d, e, o = position
    return {
        "$or": [
            {due: {"$gt": d}},
            {due: d, event_id: {"$gt": e}},
            {due: d, event_id: e, offset: {"$gt": o}},
        ]
    }


def due_span(start: int | None, end: int | None) -> dict[str, int]:
    """Return the bounds of a due time between `start` and `end` (inclusive)."""
    span: dict[str, int] = {}
    if start is not None:
        span["$gte"] = start
    if end is not None:
        span["$lte"] = end
    return span


_encode = msgspec.json.Encoder().encode
_decode_event = msgspec.json.Decoder(Event).decode
_decode_reminder = msgspec.json.Decoder(Reminder).decode


def to_feed_entry(
    position: int,
    op: str,
    event: Event | None,
    epoch: str | None = None,
    reminder: Reminder | None = None,
) -> dict[str, Any]:
    """Return the feed document of one change."""
    doc: dict[str, Any] = {
        "_id": position,
        "op": op,
        "event": None if event is None else _encode(event),
    }
    if epoch is not None:
        doc["epoch"] = epoch
    if reminder is not None:
        doc["reminder"] = _encode(reminder)
        # The reminder's identity: the claim that inserts the entry marks its record finished.
        doc |= {"re": reminder.event_id, "rt": reminder.ts, "ro": reminder.offset}
    return doc


def change(doc: Mapping[str, Any]) -> Change:
    """Return the change of a feed document."""
    event, reminder = doc["event"], doc.get("reminder")
    return Change(
        doc["_id"],
        doc["op"],
        None if event is None else _decode_event(event),
        doc.get("epoch"),
        None if reminder is None else _decode_reminder(reminder),
    )
