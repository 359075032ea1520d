"""How events and feed changes are written in Redis: JSON values and ordered members."""

from __future__ import annotations

from typing import Any

import msgspec

from eventd.model import Event
from eventd.store.base import Change, Query
from eventd.times import MIN_US

encode = msgspec.json.Encoder().encode
decode = msgspec.json.Decoder(Event).decode

ID_OFFSET = 18 + 1 + 20 + 1  # where the id starts in a member (see `member`)
ID_START = ID_OFFSET + 1  # the same, counted from 1 as Lua counts


def stamp(ts: int) -> str:
    """Return a timestamp shifted to be non-negative and zero-padded to sort as text."""
    return f"{ts - MIN_US:018d}"


def member(event: Event) -> str:
    """Return the sorted-set member of an event: its `(ts, seq)` order, then its id."""
    return f"{stamp(event.ts)}:{event.seq:020d}:{event.id}"


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


def change(entry: list[Any]) -> Change:
    """Return the change of a feed stream entry, read as the scripts write its fields."""
    entry_id, fields = entry  # op, <op>, event, <event>[, epoch, <epoch> for `cleared`]
    op, raw = fields[1], fields[3]
    epoch = fields[5].decode() if len(fields) > 5 else None
    return Change(position(entry_id), op.decode(), decode(raw) if raw else None, epoch)
