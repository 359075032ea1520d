"""How events, reminders and feed changes are written in Redis: JSON values, ordered
members and reminder records."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from eventd.model import Event
from eventd.pacing import Work, slices
from eventd.store.base import Change, Position, Query, Reminder, ReminderPosition, ReminderQuery
from eventd.times import MIN_US

encode = msgspec.json.Encoder().encode
decode = msgspec.json.Decoder(Event).decode

DECODE_SLICE = 256  # feed entries decoded per step (see `pacing`)
ID_OFFSET = 18 + 1 + 20 + 1  # where the id starts in a member (see `member`)
ID_START = ID_OFFSET + 1  # the same, counted from 1 as Lua counts


def stamp(ts: int) -> str:
    """Return a timestamp shifted to be non-negative and zero-padded to sort as text."""
    return f"{ts - MIN_US:018d}"


def member(event: Event) -> str:
    """Return the sorted-set member of an event: its `(ts, seq)` order, then its id."""
    return f"{stamp(event.ts)}:{event.seq:020d}:{event.id}"


def member_position(member: bytes) -> Position:
    """Return the `(ts, seq)` of an event's sorted-set member (see `member`)."""
    return int(member[:18]) + MIN_US, int(member[19:39])


def span(query: Query) -> tuple[str, str]:
    """Return the (min, max) lexicographic range of `query`'s time filters."""
    low = "-" if query.start is None else "[" + stamp(query.start)
    high = "+" if query.end is None else "(" + stamp(query.end + 1)
    return low, high


def bounds(query: Query) -> tuple[str, str]:
    """Return the (min, max) lexicographic range of `query` past its cursor, in ascending
    terms."""
    low, high = span(query)
    if query.after is not None:
        ts, seq = query.after
        at = f"{stamp(ts)}:{seq:020d}:"
        if query.order == "asc":
            # ';' sorts right after ':', so this is just past every member at (ts, seq).
            cursor = "[" + at[:-1] + ";"
            low = cursor if low == "-" or cursor[1:] > low[1:] else low
        else:
            cursor = "(" + at
            high = cursor if high == "+" or cursor[1:] < high[1:] else high
    return low, high


def position(entry_id: bytes) -> int:
    """Return the feed position of a stream entry id (`<position>-0`)."""
    return int(entry_id.split(b"-", 1)[0])


def changes_of(entries: list[Any]) -> Work[list[Change]]:
    """Return the changes of feed stream entries, decoded a slice at a time."""
    changes: list[Change] = []
    for part in slices(entries, DECODE_SLICE):
        changes += [change(entry) for entry in part]
        yield
    return changes


def change(entry: list[Any]) -> Change:
    """Return the change of a feed stream entry, read as the scripts write its fields."""
    # op, <op>, event, <event>, then for `cleared`: epoch, <epoch>; for `reminder`:
    # reminder, <member>, then the fields of its record (see `reminder`).
    entry_id, fields = entry
    op, raw = fields[1], fields[3]
    at = position(entry_id)
    if op == b"reminder":
        sent = reminder(fields[5], _pairs(fields[6:]), state="sent", position=at)
        return Change(at, "reminder", decode(raw), reminder=sent)
    epoch = fields[5].decode() if len(fields) > 5 else None
    return Change(at, op.decode(), decode(raw) if raw else None, epoch)


# Reminders. Their times are written shifted by DUE_SHIFT and zero-padded to DUE_WIDTH digits,
# so that text order is numeric order, which Lua compares exactly where its doubles could not
# (an offset of up to 366 days before year 1 is negative; year 9999 is past 2**53 µs).
DUE_WIDTH = 19
DUE_SHIFT = 10**18  # exact for any time within ±31,000 years
OFFSET_WIDTH = 10  # seconds; reminder offsets are at most 366 days
US = 1_000_000


def due_stamp(us: int) -> str:
    """Return a reminder time as text that sorts as the time does."""
    shifted = us + DUE_SHIFT
    if not 0 <= shifted < 10**DUE_WIDTH:
        raise ValueError(f"a reminder time out of range: {us}")
    return f"{shifted:0{DUE_WIDTH}d}"


def bound_stamp(us: int) -> str:
    """Return `due_stamp(us)`, clamped to the range: a bound that no stored time passes."""
    return f"{min(max(us + DUE_SHIFT, 0), 10**DUE_WIDTH - 1):0{DUE_WIDTH}d}"


def reminder_member(order: ReminderPosition) -> str:
    """Return a reminder's sorted-set member, which sorts as `(due, event_id, offset)`.

    The id ends with a NUL, below any character, so a shorter id sorts before a longer one it
    begins; the fixed widths on both sides let the id be cut out whatever it holds.
    """
    due, event_id, offset = order
    if not 0 < offset < 10**OFFSET_WIDTH:
        raise ValueError(f"a reminder offset out of range: {offset}")
    return f"{due_stamp(due)}{event_id}\x00{offset:0{OFFSET_WIDTH}d}"


def reminder_order(member: bytes) -> ReminderPosition:
    """Return the `(due, event_id, offset)` of a reminder's member."""
    due = int(member[:DUE_WIDTH]) - DUE_SHIFT
    event_id = member[DUE_WIDTH : -OFFSET_WIDTH - 1].decode()
    return due, event_id, int(member[-OFFSET_WIDTH:])


def wanted_reminders(event: Event, default_offsets: Sequence[int]) -> list[str]:
    """Return the members of the reminders an event has at its timestamp, armed or not."""
    offsets = default_offsets if event.remind is None else event.remind
    return [reminder_member((event.ts - o * US, event.id, o)) for o in offsets]


def arming(event: Event, default_offsets: Sequence[int]) -> list[Any]:
    """Return what the scripts' `arm` takes for an event just written (see remind.lua)."""
    members = wanted_reminders(event, default_offsets)
    live = "1" if event.ts > event.updated else "0"
    key = "" if event.key is None else "=" + event.key
    stamps = [due_stamp(event.ts), due_stamp(event.updated)]
    return [event.id, live, *stamps, event.type, key, len(members), *members]


def disarming(event_id: str) -> list[Any]:
    """Return what the scripts' `arm` takes for a deleted event: no reminders at all."""
    return [event_id, "0", "", "", "", "", 0]


def _pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _time(raw: bytes | None) -> int | None:
    return None if raw is None else int(raw) - DUE_SHIFT


def reminder(member: bytes, record: Mapping[bytes, bytes], **fields: Any) -> Reminder:
    """Return the reminder of a member and the fields of its record (or of its feed entry).

    The record holds `state`, `ts`, `armed`, `type` and, when set, `key`, `sent_at`, `late`
    ('1' or '0') and `position`; `fields` override what it says.
    """
    due, event_id, offset = reminder_order(member)
    key = record.get(b"key")
    sent_at = _time(record.get(b"sent_at"))
    position = record.get(b"position")
    values: dict[str, Any] = {
        "state": record[b"state"].decode() if b"state" in record else "pending",
        "sent_at": sent_at,
        "late": record.get(b"late") == b"1",
        "position": None if position is None else int(position),
    }
    values.update(fields)
    return Reminder(
        event_id=event_id,
        ts=due + offset * US,
        offset=offset,
        due=due,
        armed=int(record[b"armed"]) - DUE_SHIFT,
        type=record[b"type"].decode(),
        key=None if key is None else key.decode(),
        **values,
    )


def records(rows: Sequence[Any]) -> list[Reminder]:
    """Return the reminders of a script's rows: `[member, [field, value, ...]]` each, one
    without fields (its record vanished with a clear under way) left out."""
    return [reminder(member, _pairs(flat)) for member, flat in rows if flat]


def reminder_span(query: ReminderQuery) -> tuple[str, str]:
    """Return the (min, max) lexicographic range of `query`'s due times past its cursor."""
    low = "-" if query.start is None else "[" + bound_stamp(query.start)
    high = "+" if query.end is None else "(" + bound_stamp(query.end + 1)
    if query.after is not None:
        cursor = "(" + reminder_member(query.after)
        low = cursor if low == "-" or cursor[1:] > low[1:] else low
    return low, high
