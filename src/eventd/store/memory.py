"""The in-memory engine: sorted indexes from sortedcontainers, nothing persisted."""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, Self, TypeAlias

import msgspec
from sortedcontainers import SortedList

from eventd.config import Config
from eventd.model import Event
from eventd.pacing import Work, done, paced, slices
from eventd.store.base import (
    LATE_AFTER,
    Change,
    Engine,
    FeedPage,
    Op,
    Page,
    PutResult,
    Query,
    Reminder,
    ReminderPage,
    ReminderQuery,
    Reminders,
    engine_options,
    new_epoch,
)
from eventd.store.bulk import add_keys, dropped
from eventd.store.memory_reminders import ReminderBook
from eventd.store.puts import check_batch, check_stored, put_results
from eventd.store.where import FieldIndex, Matcher, token

Index: TypeAlias = SortedList
# An event's place (ts, seq) as one int, ts * 2**48 + seq: ints compare faster than tuples,
# and sorted inserts are most of a bulk import's cost. seq stays below 2**48.
_SEQ_SPAN = 1 << 48
SLICE = 1024  # events stored per step of a put (see `pacing`)


def _key(ts: int, seq: int = 0) -> int:
    return ts * _SEQ_SPAN + seq


class MemoryEngine(Engine, Reminders):
    """Events by id and by key (see `_key`), in a sorted timeline and sorted indexes per type,
    key, and value of each indexed field; their reminders in a `ReminderBook`, kept by the
    same calls.

    Each event's key (see `_key`) is one object shared by every index it is in, so an extra
    index costs a pointer per event.
    """

    name = "memory"

    def __init__(
        self,
        *,
        first_seq: int = 1,
        history: int = 100_000,
        default_offsets: tuple[int, ...] = Reminders.default_offsets,
        indexed_fields: Sequence[str] = (),
    ) -> None:
        self.default_offsets = default_offsets
        self._fields = FieldIndex(indexed_fields)
        self._by_token: dict[str, SortedList] = {}  # events by indexed (path, value) token
        self._reminders = ReminderBook(default_offsets)
        self._next_seq = first_seq
        self._feed: deque[Change] = deque(maxlen=history)
        self._position = 0
        self._appended = asyncio.Event()
        self._epoch = new_epoch()  # nothing is kept across a restart: a new history begins
        self._by_id: dict[str, Event] = {}
        self._at: dict[int, Event] = {}  # the event at each key
        self._timeline = SortedList()  # every event's key
        self._by_type: dict[str, SortedList] = {}
        self._by_key: dict[str, SortedList] = {}
        self._by_type_key: dict[tuple[str, str], SortedList] = {}
        self._cursor_secret = os.urandom(32)  # the store lives as long as this object

    @classmethod
    def from_config(cls, config: Config) -> Self:
        return cls(**engine_options(config))

    async def put_many(self, events: Sequence[Event]) -> list[PutResult]:
        # In slices that yield to the loop (see `pacing`). The worker takes no other command
        # meanwhile, and the changes reach the feed at once at the end: no reader sees part
        # of a put.
        fresh = await paced(check_batch(events))
        stored = await paced(_known(fresh, self._by_id))
        await paced(check_stored(events, stored))
        inserted = await paced(_numbered(fresh, stored, self._next_seq))
        await paced(self._stored(list(inserted.values())), atomic=True)
        return await paced(put_results(events, inserted, stored))

    def _stored(self, events: list[Event]) -> Work[None]:
        """Store new events, record their changes and arm their reminders."""
        self._next_seq += len(events)
        if len(events) == 1:
            self._insert(events[0])
        else:
            yield from self._insert_many(events)
        changes = []
        position = self._position
        for part in slices(events, SLICE):
            changes += [Change(position + i, "created", e) for i, e in enumerate(part, 1)]
            position += len(part)
            yield
        self._append(changes)
        yield from self._reminders.arm(events)

    async def get(self, id: str) -> Event | None:
        return self._by_id.get(id)

    async def update(self, id: str, changes: Mapping[str, Any], updated: int) -> Event | None:
        old = self._by_id.get(id)
        if old is None:
            return None
        new = msgspec.structs.replace(old, **changes, updated=updated)
        self._remove(old)
        self._insert(new)
        self._record("updated", new)
        done(self._reminders.arm([new]))
        return new

    async def delete(self, id: str) -> Event | None:
        event = self._by_id.get(id)
        if event is not None:
            self._remove(event)
            self._record("deleted", event)
            self._reminders.cancel(event.id)
        return event

    async def query(self, query: Query) -> Page:
        index, matches = self._index_for(query)
        if index is None:
            return Page([], more=False)
        events = self._counted(_scan(index, query))
        if not matches.trivial:
            events = filter(matches, events)
        found = list(islice(events, query.limit + 1))
        return Page(found[: query.limit], more=len(found) > query.limit)

    async def count(self, query: Query) -> int:
        index, matches = self._index_for(query)
        if index is None:
            return 0
        lo = 0 if query.start is None else index.bisect_left(_key(query.start))
        hi = len(index) if query.end is None else index.bisect_left(_key(query.end + 1))
        if matches.trivial:
            return max(0, hi - lo)
        return sum(1 for _ in filter(matches, self._counted(index.islice(lo, hi))))

    def _counted(self, keys: Iterable[int]) -> Iterator[Event]:
        """Yield the events at `keys`, counting them in `events_read`."""
        for key in keys:
            self.events_read += 1
            yield self._at[key]

    async def clear(self) -> int:
        count = len(self._by_id)
        # Empty structures take the old ones' place at once; the old ones are emptied in
        # slices, so that freeing a large store does not hold the loop. Indexes go first:
        # the events and their keys are freed last, with `_at`.
        old = [self._by_type, self._by_key, self._by_type_key, self._by_token, self._timeline]
        old += [*self._reminders.structures(), self._by_id, self._at]
        self._by_id, self._at, self._timeline = {}, {}, SortedList()
        self._by_type, self._by_key, self._by_type_key, self._by_token = {}, {}, {}, {}
        self._reminders = ReminderBook(self.default_offsets)
        self._epoch = new_epoch()
        self._record("cleared", None, self._epoch)
        await paced(dropped(old))
        return count

    async def cursor_secret(self) -> bytes:
        return self._cursor_secret

    async def read_changes(self, after: int, limit: int) -> FeedPage:
        oldest = self._feed[0].position if self._feed else self._position + 1
        skip = max(after + 1, oldest) - oldest
        newer = len(self._feed) - skip
        if newer <= 0 or limit <= 0:
            changes: list[Change] = []
        elif skip <= newer:
            changes = list(islice(self._feed, skip, skip + limit))
        else:
            # Readers mostly follow the head: walk in from the newer end, O(changes after `after`).
            tail = list(islice(reversed(self._feed), newer))
            tail.reverse()
            changes = tail[:limit]
        return FeedPage(changes, oldest=oldest, head=self._position)

    async def wait_changes(self, after: int, block: float) -> list[Change]:
        if self._position <= after:
            self._appended.clear()
            try:
                async with asyncio.timeout(block):
                    await self._appended.wait()
            except TimeoutError:
                return []
        return (await self.read_changes(after, len(self._feed))).changes

    async def feed_epoch(self) -> str:
        return self._epoch

    async def next_due(self) -> int | None:
        return self._reminders.next_due()

    async def claim_due(self, now: int, limit: int, late_grace: int) -> list[Reminder]:
        claimed = []
        for reminder in self._reminders.due(now, limit):
            event = self._by_id[reminder.event_id]  # a pending reminder's event is stored
            since = max(reminder.due, reminder.armed)
            if now >= reminder.ts or now - since > late_grace:
                claimed.append(self._reminders.settle(reminder, state="missed", sent_at=now))
                continue
            late = now - since > LATE_AFTER
            position = self._position + 1  # of the change recorded next, in this same step
            sent = self._reminders.settle(
                reminder, state="sent", sent_at=now, late=late, position=position
            )
            self._record("reminder", event, reminder=sent)
            claimed.append(sent)
        return claimed

    async def list_reminders(self, query: ReminderQuery) -> ReminderPage:
        return self._reminders.page(query)

    async def event_reminders(self, event_id: str) -> list[Reminder]:
        return self._reminders.of_event(event_id)

    def _record(
        self,
        op: Op,
        event: Event | None,
        epoch: str | None = None,
        reminder: Reminder | None = None,
    ) -> None:
        self._append([Change(self._position + 1, op, event, epoch, reminder)])

    def _append(self, changes: list[Change]) -> None:
        """Append changes, numbered from the position after the last, to the feed."""
        if changes:
            self._feed.extend(changes)
            self._position = changes[-1].position
            self._written(self._position)
            self._appended.set()

    def _index_for(self, query: Query) -> tuple[Index | None, Matcher]:
        """Return the narrowest index that holds every event `query` selects, and what the
        events read from it must also pass."""
        if query.type is not None and query.key is not None:
            index = self._by_type_key.get((query.type, query.key))
        elif query.type is not None:
            index = self._by_type.get(query.type)
        elif query.key is not None:
            index = self._by_key.get(query.key)
        else:
            index = self._timeline
        clause = self._fields.clause(query)
        if clause is not None:
            by_value = self._by_token.get(token(*clause))
            if by_value is None or index is None or len(by_value) <= len(index):
                return by_value, Matcher(query)
        return index, Matcher(query)

    def _secondary(self, event: Event) -> Iterator[tuple[dict[Any, SortedList], Any]]:
        # `_insert_many` writes these out, for speed: keep the two in step.
        yield self._by_type, event.type
        if event.key is not None:
            yield self._by_key, event.key
            yield self._by_type_key, (event.type, event.key)
        for name in self._fields.tokens(event):
            yield self._by_token, name

    def _insert(self, event: Event) -> None:
        pos = _key(event.ts, event.seq)
        self._by_id[event.id] = event
        self._at[pos] = event
        self._timeline.add(pos)
        for index, name in self._secondary(event):
            members = index.get(name)
            if members is None:
                members = index[name] = SortedList()
            members.add(pos)

    def _insert_many(self, events: list[Event]) -> Work[None]:
        # Keys go into each index at once as SortedList.update does (sorted, then merged or
        # added in order): faster than adding a large batch one by one (docs/benchmarks.md,
        # scenario 2), and in slices (`bulk.add_keys`).
        keys: list[int] = []
        by_type: defaultdict[str, list[int]] = defaultdict(list)
        by_key: defaultdict[str, list[int]] = defaultdict(list)
        by_type_key: defaultdict[tuple[str, str], list[int]] = defaultdict(list)
        by_token: defaultdict[str, list[int]] = defaultdict(list)
        by_id, at, tokens = self._by_id, self._at, self._fields.tokens
        for part in slices(events, SLICE):
            for event in part:  # the indexes of `_secondary`, grouped by name
                pos = event.ts * _SEQ_SPAN + event.seq  # _key(), inline: once per event
                by_id[event.id] = event
                at[pos] = event
                keys.append(pos)
                by_type[event.type].append(pos)
                if event.key is not None:
                    by_key[event.key].append(pos)
                    by_type_key[(event.type, event.key)].append(pos)
                for name in tokens(event):
                    by_token[name].append(pos)
            yield
        yield from add_keys(self._timeline, keys)
        groups: list[tuple[dict[Any, SortedList], dict[Any, list[int]]]] = [
            (self._by_type, by_type),
            (self._by_key, by_key),
            (self._by_type_key, by_type_key),
            (self._by_token, by_token),
        ]
        for index, grouped in groups:
            for name, members in grouped.items():
                if name not in index:
                    index[name] = SortedList()
                yield from add_keys(index[name], members)

    def _remove(self, event: Event) -> None:
        pos = _key(event.ts, event.seq)
        del self._by_id[event.id]
        del self._at[pos]
        self._timeline.remove(pos)
        for index, name in self._secondary(event):
            members = index[name]
            members.remove(pos)
            if not members:
                del index[name]


def _known(fresh: Mapping[str, Event], by_id: Mapping[str, Event]) -> Work[dict[str, Event]]:
    """Return the stored events of the ids in `fresh` that are stored."""
    stored: dict[str, Event] = {}
    for part in slices(list(fresh), SLICE * 8):
        stored.update((id, by_id[id]) for id in part if id in by_id)
        yield
    return stored


def _numbered(
    fresh: Mapping[str, Event], stored: Mapping[str, Event], first: int
) -> Work[dict[str, Event]]:
    """Return the events whose ids are not stored, by id, with seqs from `first` on."""
    inserted = {}
    seq = first
    for part in slices(list(fresh.items()), SLICE):
        for id, event in part:
            if id not in stored:
                inserted[id] = msgspec.structs.replace(event, seq=seq)
                seq += 1
        yield
    return inserted


def _scan(index: Index, query: Query) -> Iterator[int]:
    """Iterate event keys in `index` within the query's range, after its cursor."""
    lo = None if query.start is None else _key(query.start)
    hi = None if query.end is None else _key(query.end + 1)
    lo_inclusive = True
    after = None if query.after is None else _key(*query.after)
    if query.order == "asc":
        if after is not None and (lo is None or after >= lo):
            lo, lo_inclusive = after, False
        return iter(index.irange(lo, hi, inclusive=(lo_inclusive, False)))
    if after is not None and (hi is None or after < hi):
        hi = after
    return iter(index.irange(lo, hi, inclusive=(True, False), reverse=True))
