"""The in-memory engine: sorted indexes from sortedcontainers, nothing persisted."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from itertools import islice
from typing import Any, TypeAlias

import msgspec
from sortedcontainers import SortedDict, SortedList

from eventd.model import Event
from eventd.store.base import (
    Change,
    Engine,
    FeedPage,
    Op,
    Page,
    Position,
    PutResult,
    Query,
    check_batch,
    check_stored,
    put_results,
)

# SortedDict and SortedList share the irange/bisect_left interface the scans use.
Index: TypeAlias = Any


class MemoryEngine(Engine):
    """Events in a `SortedDict` keyed by `(ts, seq)`, with sorted indexes per type and key.

    Each event's position tuple is shared by every index it is in, so an extra index
    costs a pointer per event.
    """

    name = "memory"

    def __init__(self, *, first_seq: int = 1, history: int = 100_000) -> None:
        self._next_seq = first_seq
        self._feed: deque[Change] = deque(maxlen=history)
        self._position = 0
        self._appended = asyncio.Event()
        self._by_id: dict[str, Event] = {}
        self._timeline: SortedDict = SortedDict()
        self._by_type: dict[str, SortedList] = {}
        self._by_key: dict[str, SortedList] = {}
        self._by_type_key: dict[tuple[str, str], SortedList] = {}

    async def put_many(self, events: Sequence[Event]) -> list[PutResult]:
        fresh = check_batch(events)
        stored = {id: self._by_id[id] for id in fresh if id in self._by_id}
        check_stored(events, stored)
        inserted = {}
        for id, event in fresh.items():
            if id not in stored:
                event = msgspec.structs.replace(event, seq=self._next_seq)
                self._next_seq += 1
                self._insert(event)
                self._record("created", event)
                inserted[id] = event
        return put_results(events, inserted, stored)

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
        return new

    async def delete(self, id: str) -> Event | None:
        event = self._by_id.get(id)
        if event is not None:
            self._remove(event)
            self._record("deleted", event)
        return event

    async def query(self, query: Query) -> Page:
        index = self._index_for(query)
        if index is None:
            return Page([], more=False)
        positions = list(islice(_scan(index, query), query.limit + 1))
        more = len(positions) > query.limit
        events = [self._timeline[pos] for pos in positions[: query.limit]]
        return Page(events, more=more)

    async def count(self, query: Query) -> int:
        index = self._index_for(query)
        if index is None:
            return 0
        lo = 0 if query.start is None else index.bisect_left((query.start,))
        hi = len(index) if query.end is None else index.bisect_left((query.end + 1,))
        return max(0, hi - lo)

    async def clear(self) -> int:
        count = len(self._by_id)
        self._by_id.clear()
        self._timeline.clear()
        self._by_type.clear()
        self._by_key.clear()
        self._by_type_key.clear()
        self._record("cleared", None)
        return count

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

    def _record(self, op: Op, event: Event | None) -> None:
        self._position += 1
        self._feed.append(Change(self._position, op, event))
        self._appended.set()

    def _index_for(self, query: Query) -> Index | None:
        if query.type is not None and query.key is not None:
            return self._by_type_key.get((query.type, query.key))
        if query.type is not None:
            return self._by_type.get(query.type)
        if query.key is not None:
            return self._by_key.get(query.key)
        return self._timeline

    def _secondary(self, event: Event) -> Iterator[tuple[dict[Any, SortedList], Any]]:
        yield self._by_type, event.type
        if event.key is not None:
            yield self._by_key, event.key
            yield self._by_type_key, (event.type, event.key)

    def _insert(self, event: Event) -> None:
        pos = event.position
        self._by_id[event.id] = event
        self._timeline[pos] = event
        for index, name in self._secondary(event):
            members = index.get(name)
            if members is None:
                members = index[name] = SortedList()
            members.add(pos)

    def _remove(self, event: Event) -> None:
        pos = event.position
        del self._by_id[event.id]
        del self._timeline[pos]
        for index, name in self._secondary(event):
            members = index[name]
            members.remove(pos)
            if not members:
                del index[name]


def _scan(index: Index, query: Query) -> Iterator[Position]:
    """Iterate positions in `index` within the query's range, after its cursor."""
    lo: tuple[int, ...] | None = None if query.start is None else (query.start,)
    hi: tuple[int, ...] | None = None if query.end is None else (query.end + 1,)
    lo_inclusive = True
    after = query.after
    if query.order == "asc":
        if after is not None and (lo is None or after >= lo):
            lo, lo_inclusive = after, False
        return iter(index.irange(lo, hi, inclusive=(lo_inclusive, False)))
    if after is not None and (hi is None or after < hi):
        hi = after
    return iter(index.irange(lo, hi, inclusive=(True, False), reverse=True))
