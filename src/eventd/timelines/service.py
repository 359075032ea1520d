"""Timelines and transitions as a service: indexed fields from a projection, others from the
store.

The fields of `timelines.indexed_fields` are kept by `TransitionsService`, a projection of
the change feed (rebuilt from every stored event, then fed change by change): their
transitions and the keys that have them are answered without reading the store. Any other
field is answered by a scan: its transitions read every event up to the window's end, its
keys every event. A key's timeline is always read from the store, through the `(key, ts,
seq)` index every engine has.

Events without a key belong to no timeline.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from eventd.feed.hub import Hub
from eventd.feed.projection import Projection
from eventd.fields import MISSING, FieldPath, canonical
from eventd.model import Event
from eventd.store.base import Position, Query
from eventd.store.worker import StoreWorker
from eventd.timelines import answers
from eventd.timelines.index import FieldIndex
from eventd.timelines.points import Point, Window, pairs
from eventd.times import MIN_US, Clock, format_us

Mode = Literal["changes", "all"]


def point_of(path: FieldPath, event: Event) -> tuple[Point, Any] | None:
    """Return the point `event` makes on its timeline, with its value, or None if the field
    is missing."""
    value = path.read(event)
    if value is MISSING:
        return None
    return Point(event.ts, event.seq, canonical(value), event.id, event.type), value


def out_point(event: Event, value: Any, *, carried: bool | None = None) -> dict[str, Any]:
    """Return a point as timelines answer it."""
    point = {"timestamp": format_us(event.ts), "value": value, "event_id": event.id}
    if carried is not None:
        point["carried"] = carried
    return point


class Listener(Protocol):
    """What a tick needs of a subscription (see channel.TransitionsSubscription)."""

    def question(self) -> tuple[FieldPath, Window]:
        """Return the field and window whose transitions the subscription follows now."""

    def push(self) -> None:
        """Send what changed in the answer to `question()`."""


class TransitionsService(Projection):
    """The points, changes and transitions of the indexed fields, by key, fed by the hub."""

    name = "timelines"
    kept = "transitions"

    def __init__(
        self,
        worker: StoreWorker,
        hub: Hub,
        clock: Clock,
        paths: tuple[FieldPath, ...],
        *,
        catch_up_timeout: float = 5.0,
    ) -> None:
        super().__init__(worker, hub, catch_up_timeout=catch_up_timeout)
        self.paths = {path.key: path for path in paths}
        self.indexes = {key: FieldIndex() for key in self.paths}
        self.clock = clock
        self.listeners: set[Listener] = set()
        # What a tick computed, for every subscriber asking the same question in that tick.
        self._tick: int | None = None
        self._cache: dict[tuple[str, Window], dict[tuple[str, str], dict[str, Any]]] = {}

    def index(self, path: FieldPath) -> FieldIndex | None:
        """Return the index of `path`, or None if it is not an indexed field."""
        return self.indexes.get(path.key)

    def reset(self) -> None:
        """Forget every point: the first step of a rebuild."""
        for index in self.indexes.values():
            self.discard(*index.clear())

    def query(self) -> Query:
        """Return the events a rebuild reads: all of them."""
        return Query()

    def load_event(self, event: Event) -> None:
        """Take in one stored event's points."""
        for key, path in self.paths.items():
            made = point_of(path, event)
            self.indexes[key].put(event.id, event.key, None if made is None else made[0])

    def forget(self, event: Event) -> None:
        """Remove the points of a deleted event."""
        for index in self.indexes.values():
            index.remove(event.id)

    def now(self) -> int:
        """Return the time of the current tick, or now outside ticks."""
        return self.clock() if self._tick is None else self._tick

    def window_entries(
        self, path: FieldPath, window: Window
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Return the transitions of the indexed `path` in `window`, by (from, to) pair,
        computed once per tick."""
        index = self.indexes[path.key]
        cache_key = (path.key, window)
        entries = self._cache.get(cache_key) if self._tick is not None else None
        if entries is None:
            entries = {(e.source, e.target): e.answer for e in pairs(index.window(window))}
            if self._tick is not None:
                self._cache[cache_key] = entries
        return entries

    async def tick(self) -> None:
        """The transitions-tick job: let listeners push what changed."""
        if not self.settled:
            # A rebuild has emptied the index and is reading it back: what it holds now is
            # not what changed. The first tick after it pushes the differences.
            return
        self._tick = self.clock()
        try:
            # Each question once, a slice at a time; then every push reads its answer.
            for listener in list(self.listeners):
                path, window = listener.question()
                if (path.key, window) not in self._cache:
                    self._cache[path.key, window] = await self.entries(path, window)
            if self._held is not None or self._resyncing:  # not `settled`, for mypy's sake
                return  # a rebuild began meanwhile: the first tick after it pushes
            for listener in list(self.listeners):
                listener.push()
        finally:
            self._tick = None
            self._cache.clear()

    async def entries(
        self, path: FieldPath, window: Window
    ) -> dict[tuple[str, str], dict[str, Any]]:
        """Return `window_entries(path, window)`, computed a slice at a time."""
        found = await answers.indexed(self.indexes[path.key], window)
        return {(e.source, e.target): e.answer for e in await answers.pairs(found)}


@dataclass(frozen=True, slots=True)
class Span:
    """The times a timeline is read over (inclusive; None: unbounded)."""

    start: int | None = None
    end: int | None = None


async def _last_present(worker: StoreWorker, path: FieldPath, query: Query) -> Any:
    """Return the first event of the descending `query` that has the field, with its value,
    or None."""
    async for event in answers.paced(worker.scan(query, page_size=100)):
        value = path.read(event)
        if value is not MISSING:
            return event, value
    return None


async def before(worker: StoreWorker, key: str, path: FieldPath, start: int) -> Any:
    """Return the last event of `key` before `start` that has the field, with its value (the
    value in effect at `start`), or None."""
    return await _last_present(worker, path, Query(key=key, end=start - 1, order="desc"))


async def timeline(
    worker: StoreWorker,
    key: str,
    path: FieldPath,
    mode: Mode,
    span: Span,
    limit: int,
    after: Position | None = None,
) -> tuple[dict[str, Any], Position | None]:
    """Return up to `limit` points of `key` over `span` after the position `after`, with the
    last one before `span`; and the position to continue after, or None at the end."""
    found = None
    if span.start is not None and span.start > MIN_US:  # nothing comes before the first µs
        found = await before(worker, key, path, span.start)
    previous: tuple[Event, Any] | None = found
    if after is not None:  # the value in effect at the cursor, as the page before saw it
        at_or_before = Query(key=key, after=(after[0], after[1] + 1), order="desc")
        previous = await _last_present(worker, path, at_or_before)
    query = Query(key=key, start=span.start, end=span.end, after=after)
    points, cut = await _points(worker, query, path, mode, previous, limit)
    body = {
        "key": key,
        "field": path.text,
        "mode": mode,
        "start": None if span.start is None else format_us(span.start),
        "end": None if span.end is None else format_us(span.end),
        "before": None if found is None else out_point(*found),
        "points": points,
    }
    return body, cut


async def _points(
    worker: StoreWorker,
    query: Query,
    path: FieldPath,
    mode: Mode,
    previous: tuple[Event, Any] | None,
    limit: int,
) -> tuple[list[dict[str, Any]], Position | None]:
    """Return up to `limit` points of the events `query` selects, `previous` being the value
    in effect before them; and the last point's position if another point follows."""
    last = None if previous is None else canonical(previous[1])
    points: list[dict[str, Any]] = []
    position: Position | None = None
    async for event in answers.paced(worker.scan(query)):
        value = path.read(event)
        point = None
        if value is MISSING:
            if mode == "all" and previous is not None:
                point = out_point(event, previous[1], carried=True)
        else:
            text = canonical(value)
            if mode == "all":
                point = out_point(event, value, carried=False)
            elif text != last:
                point = out_point(event, value)
            previous, last = (event, value), text
        if point is None:
            continue
        if len(points) == limit:
            return points, position  # a point follows the page
        points.append(point)
        position = event.position
    return points, None


async def keys_scanned(
    worker: StoreWorker, path: FieldPath, after: str | None, limit: int
) -> tuple[list[str], bool]:
    """Return up to `limit` keys after `after` that have the field, by reading every event,
    and whether more follow."""
    keys: set[str] = set()
    async for event in answers.paced(worker.scan(Query())):
        key = event.key
        if key is None or key in keys or (after is not None and key <= after):
            continue
        if path.read(event) is not MISSING:
            keys.add(key)
            if len(keys) > 2 * (limit + 1) + answers.SLICE:
                # Only the first `limit` and whether one follows count: a store of many
                # keys is not sorted all at once at the end.
                keys = set(heapq.nsmallest(limit + 1, keys))
    ordered = sorted(keys)
    return ordered[:limit], len(ordered) > limit


async def lines_scanned(
    worker: StoreWorker, path: FieldPath, end: int, key: str | None = None
) -> AsyncIterator[tuple[str, list[Point]]]:
    """Yield each key's points up to `end` (of `key` alone, if given), by reading every
    event up to it."""
    lines: dict[str, list[Point]] = {}
    async for event in answers.paced(worker.scan(Query(end=end, key=key))):
        if event.key is None:
            continue
        made = point_of(path, event)
        if made is not None:
            lines.setdefault(event.key, []).append(made[0])
    for key, points in lines.items():
        yield key, points  # the scan read them in (ts, seq) order


async def transitions(
    service: TransitionsService, path: FieldPath, window: Window
) -> list[dict[str, Any]]:
    """Return the transitions of `path` in `window`: from the index of an indexed field,
    else from a scan of the store."""
    index = service.index(path)
    if index is not None:
        return await answers.summarize(await answers.indexed(index, window))
    # One key asked for: its own index is read, not every event.
    key = next(iter(window.keys)) if window.keys is not None and len(window.keys) == 1 else None
    lines = [line async for line in lines_scanned(service.worker, path, window.end, key)]
    return await answers.summarize(await answers.scanned(lines, window))
