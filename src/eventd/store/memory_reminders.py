"""The memory engine's reminders: records by identity and sorted indexes by due time.

Every reminder is kept by its identity `(event_id, ts, offset)` until `clear`. Each state has
an index of its reminders in due order (`Reminder.order`), and one per type, per key and per
type and key, like the events' own indexes: a page of any state and filter, the next due
time and the due reminders cost O(log n + k). An order `(due, event_id, offset)` names one
reminder, since `ts = due + offset` seconds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

import msgspec
from sortedcontainers import SortedList

from eventd.model import Event
from eventd.pacing import Work, slices
from eventd.store.base import Reminder, ReminderPage, ReminderPosition, ReminderQuery, ReminderState
from eventd.store.bulk import add_keys

US = 1_000_000
SLICE = 1024  # events armed per step (see `pacing`)
# An index's name: (state, type, key); None in place of a type or a key: any.
IndexName = tuple[ReminderState, str | None, str | None]


def _names(reminder: Reminder) -> Iterator[IndexName]:
    """Yield the indexes a reminder is in."""
    state, type, key = reminder.state, reminder.type, reminder.key
    yield state, None, None
    yield state, type, None
    if key is not None:
        yield state, None, key
        yield state, type, key


class ReminderBook:
    """Every reminder of a memory store, kept by the engine's writes in the same call."""

    def __init__(self, default_offsets: tuple[int, ...]) -> None:
        self.default_offsets = default_offsets
        self._by_event: dict[str, dict[tuple[int, int], Reminder]] = {}  # (ts, offset) -> it
        self._pending: dict[str, set[tuple[int, int]]] = {}  # each event's pending ones
        self._indexes: dict[IndexName, SortedList] = {}

    def structures(self) -> list[dict[Any, Any]]:
        """Return what holds the reminders, for a clear to release (see `bulk.dropped`)."""
        return [self._indexes, self._pending, self._by_event]

    def arm(self, events: Sequence[Event]) -> Work[None]:
        """Bring the reminders of events just written in line with them (see `Reminders`),
        a slice at a time."""
        added: list[Reminder] = []
        for part in slices(events, SLICE):
            for event in part:
                added += self._arm_one(event)
            yield
        grouped: defaultdict[IndexName, list[ReminderPosition]] = defaultdict(list)
        for reminders in slices(added, SLICE):
            for reminder in reminders:
                for name in _names(reminder):
                    grouped[name].append(reminder.order)
            yield
        # One update per index: a bulk import of future events arms many reminders at once.
        for name, orders in grouped.items():
            if name not in self._indexes:
                self._indexes[name] = SortedList()
            yield from add_keys(self._indexes[name], orders)

    def cancel(self, event_id: str) -> None:
        """Cancel every pending reminder of the event (it was deleted)."""
        records = self._by_event.get(event_id, {})
        for ident in list(self._pending.get(event_id, ())):
            self._replace(records[ident], state="cancelled")

    def next_due(self) -> int | None:
        """Return the earliest due time of a pending reminder, or None."""
        index = self._indexes.get(("pending", None, None))
        return index[0][0] if index else None

    def due(self, now: int, limit: int) -> list[Reminder]:
        """Return up to `limit` pending reminders due by `now`, in due order."""
        index = self._indexes.get(("pending", None, None))
        if index is None or limit <= 0:
            return []
        orders = islice(index.irange(maximum=(now + 1,), inclusive=(True, False)), limit)
        return [self._get(order) for order in orders]

    def settle(self, reminder: Reminder, **fields: object) -> Reminder:
        """Replace a reminder by a copy with other `fields` (its state, sent_at, ...)."""
        return self._replace(reminder, **fields)

    def page(self, query: ReminderQuery) -> ReminderPage:
        """Return a page of reminders in `query.state`, in due order after `query.after`."""
        index = self._indexes.get((query.state, query.type, query.key))
        if index is None:
            return ReminderPage([], more=False)
        lo: tuple[object, ...] | None = None if query.start is None else (query.start,)
        hi = None if query.end is None else (query.end + 1,)
        lo_inclusive = True
        if query.after is not None and (lo is None or query.after >= lo):
            lo, lo_inclusive = query.after, False
        found = index.irange(lo, hi, inclusive=(lo_inclusive, False))
        orders = list(islice(found, query.limit + 1))
        reminders = [self._get(order) for order in orders[: query.limit]]
        return ReminderPage(reminders, more=len(orders) > query.limit)

    def of_event(self, event_id: str) -> list[Reminder]:
        """Return every reminder of the event, in due order."""
        return sorted(self._by_event.get(event_id, {}).values(), key=lambda r: r.order)

    def _arm_one(self, event: Event) -> list[Reminder]:
        """Arm and cancel the event's reminders in place; return the new pending ones, which
        the caller adds to the indexes."""
        if event.ts <= event.updated and event.id not in self._pending:
            return []  # started, with nothing to cancel: most of a bulk import of the past
        offsets = self.default_offsets if event.remind is None else event.remind
        wanted = {(event.ts, offset) for offset in offsets}
        records = self._by_event.get(event.id, {})
        for ident in list(self._pending.get(event.id, ())):
            if ident not in wanted:
                self._replace(records[ident], state="cancelled")
            elif (records[ident].type, records[ident].key) != (event.type, event.key):
                self._replace(records[ident], type=event.type, key=event.key)
        added = []
        if event.ts > event.updated:  # an event that started already gets no reminder
            for ident in wanted:
                old = records.get(ident)
                if old is None or old.state == "cancelled":
                    added.append(self._new(event, ident[1], old))
        return added

    def _new(self, event: Event, offset: int, old: Reminder | None) -> Reminder:
        """Record a pending reminder (again, if `old` is its cancelled record)."""
        if old is not None:
            self._unindex(old)
        due = event.ts - offset * US
        reminder = Reminder(event.id, event.ts, offset, due, event.updated, event.type, event.key)
        self._by_event.setdefault(event.id, {})[(event.ts, offset)] = reminder
        self._pending.setdefault(event.id, set()).add((event.ts, offset))
        return reminder

    def _get(self, order: ReminderPosition) -> Reminder:
        due, event_id, offset = order
        return self._by_event[event_id][(due + offset * US, offset)]

    def _replace(self, old: Reminder, **fields: object) -> Reminder:
        new = msgspec.structs.replace(old, **fields)
        ident = (old.ts, old.offset)
        self._unindex(old)
        self._by_event[old.event_id][ident] = new
        if new.state == "pending":
            self._pending.setdefault(new.event_id, set()).add(ident)
        for name in _names(new):
            index = self._indexes.get(name)
            if index is None:
                index = self._indexes[name] = SortedList()
            index.add(new.order)
        return new

    def _unindex(self, old: Reminder) -> None:
        """Take a reminder out of its indexes (and out of its event's pending ones)."""
        if old.state == "pending":
            pending = self._pending[old.event_id]
            pending.discard((old.ts, old.offset))
            if not pending:
                del self._pending[old.event_id]
        for name in _names(old):
            index = self._indexes[name]
            index.remove(old.order)
            if not index:
                del self._indexes[name]
