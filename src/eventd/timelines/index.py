"""The transitions of one field across every key, kept current point by point.

For each key it keeps the timeline's points and its changes (see `points.py`), and for all
keys one index of the transitions by the `(ts, seq)` of the event where each appears. A
window's transitions are then a range of that index: O(log n + transitions in the window),
whatever the size of the store.

Inserting or removing one point changes at most three things: whether the point itself is a
change, whether its successor is one (it is a change when its value differs from its new
predecessor's), and the transition of the next change after those (its `from` and its dwell
depend on the change before it). So a write finds its place in O(log n) and recomputes a
bounded number of transitions, however long the timeline; inserting into a key's list also
shifts the points after it, which is cheap for the appends most streams make.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sortedcontainers import SortedDict

from eventd.timelines.points import Point, Transition, Window

Position = tuple[int, int]


def _position(point: Point) -> Position:
    return point.ts, point.seq


class Line:
    """One key's timeline: its points, and the positions of its changes.

    Plain sorted lists: a timeline is mostly short and written at its end, where a list
    inserts faster than a SortedList, and a key costs a small object rather than a tree.
    """

    __slots__ = ("changes", "points")

    def __init__(self) -> None:
        self.points: list[Point] = []  # in (ts, seq) order
        self.changes: list[Position] = []  # the position of each change, in order

    def at(self, position: Position) -> Point:
        """Return the point at `position`."""
        return self.points[bisect_left(self.points, position, key=_position)]

    def is_change(self, position: Position) -> bool:
        """Tell whether the point at `position` is a change."""
        index = bisect_left(self.changes, position)
        return index < len(self.changes) and self.changes[index] == position


class FieldIndex:
    """Points, changes and transitions of one field, by key; fed one event at a time."""

    def __init__(self) -> None:
        self.lines: Any = SortedDict()  # key -> Line, for keys with at least one point
        self.by_event: dict[str, tuple[str, Point]] = {}
        self.transitions: Any = SortedDict()  # Position -> Transition

    def clear(self) -> list[Any]:
        """Forget every point; return the large containers that held them, for the caller
        to free a slice at a time (freeing them at once takes about as long as filling them)."""
        # Freed from the last: a key's line holds all of its points, which the events' entries
        # hold too; freed first, a line lets go of its points without freeing them at once.
        held = [self.by_event, self.transitions, self.lines]
        self.lines, self.by_event, self.transitions = SortedDict(), {}, SortedDict()
        return held

    def put(self, event_id: str, key: str | None, point: Point | None) -> None:
        """Take in one event: its point (None when it has no key or lacks the field)
        replaces the one it had, wherever that was."""
        held = self.by_event.get(event_id)
        if held is not None:
            if point is not None and key is not None and held == (key, point):
                return  # a change seen twice (read by a rebuild, then applied)
            self.remove(event_id)
        if point is None or key is None:
            return
        line = self.lines.get(key)
        if line is None:
            line = self.lines[key] = Line()
        self.by_event[event_id] = (key, point)
        points = line.points
        if (
            not points
            or point.ts > points[-1].ts
            or (point.ts == points[-1].ts and point.seq > points[-1].seq)
        ):
            self._append(key, line, point)
        else:
            self._insert(key, line, point)

    def _append(self, key: str, line: Line, point: Point) -> None:
        """Add a point after every point of its line: most streams write at the end, where
        no later point or transition can change."""
        points, changes = line.points, line.changes
        last = points[-1] if points else None
        points.append(point)
        if last is not None and last.canon == point.canon:
            return  # no change, so no transition
        position = (point.ts, point.seq)
        changes.append(position)
        if len(changes) > 1:
            previous = line.at(changes[-2])
            self.transitions[position] = Transition(
                key, previous.canon, point.canon, point.ts - previous.ts, point.type
            )

    def remove(self, event_id: str) -> None:
        """Forget the point of the event `event_id`, if it has one."""
        found = self.by_event.pop(event_id, None)
        if found is None:
            return
        key, point = found
        line = self.lines[key]
        self._delete(key, line, point)
        if not line.points:
            del self.lines[key]

    def _insert(self, key: str, line: Line, point: Point) -> None:
        points = line.points
        index = bisect_left(points, point)
        points.insert(index, point)
        before = points[index - 1] if index > 0 else None
        after = points[index + 1] if index + 1 < len(points) else None
        touched: list[Position] = []
        self._mark(line, point, before is None or before.canon != point.canon, touched)
        if after is not None:
            self._mark(line, after, after.canon != point.canon, touched)
        self._retransition(key, line, touched)

    def _delete(self, key: str, line: Line, point: Point) -> None:
        points = line.points
        index = bisect_left(points, point)
        before = points[index - 1] if index > 0 else None
        after = points[index + 1] if index + 1 < len(points) else None
        del points[index]
        touched: list[Position] = []
        position = (point.ts, point.seq)
        if line.is_change(position):
            del line.changes[bisect_left(line.changes, position)]
            touched.append(position)
        if after is not None:
            self._mark(line, after, before is None or before.canon != after.canon, touched)
        self._retransition(key, line, touched)

    @staticmethod
    def _mark(line: Line, point: Point, change: bool, touched: list[Position]) -> None:
        """Make `point` a change or not; note its position if that differs from before."""
        position = (point.ts, point.seq)
        if line.is_change(position) == change:
            return
        if change:
            insort(line.changes, position)
        else:
            del line.changes[bisect_left(line.changes, position)]
        touched.append(position)

    def _retransition(self, key: str, line: Line, touched: list[Position]) -> None:
        """Recompute the transitions at the touched positions and at the change after each."""
        changes = line.changes
        affected = set(touched)
        for position in touched:
            following = bisect_right(changes, position)
            if following < len(changes):
                affected.add(changes[following])
        for position in affected:
            self.transitions.pop(position, None)
            index = bisect_left(changes, position)
            if index == len(changes) or changes[index] != position or index == 0:
                continue  # not a change (any more), or the first: no transition
            previous, current = line.at(changes[index - 1]), line.at(position)
            self.transitions[position] = Transition(
                key, previous.canon, current.canon, current.ts - previous.ts, current.type
            )

    def window(self, window: Window) -> Iterator[Transition]:
        """Yield the transitions in `window`, in `(ts, seq)` order."""
        lo, hi = (window.start,), (window.end + 1,)
        if window.keys is None:
            positions: Iterable[Position] = self.transitions.irange(lo, hi, (True, False))
        else:
            # Only the asked keys' changes are read, not every transition of the window.
            slices = []
            for key in window.keys:
                line = self.lines.get(key)
                if line is not None:
                    changes = line.changes
                    slices.append(changes[bisect_left(changes, lo) : bisect_left(changes, hi)])
            positions = heapq.merge(*slices)
        for position in positions:
            transition: Transition | None = self.transitions.get(position)
            if transition is not None and window.selects(transition):  # None: a first point
                yield transition

    def window_slice(
        self, window: Window, after: Position | None, size: int
    ) -> tuple[list[Transition], Position | None]:
        """Return the transitions in `window` among its next `size` positions after `after`
        (None: from the window's start), and the last position read, or None at the end.

        Answers are read this way, a slice per turn of the loop; a slice begins after the
        position the previous one ended at, so the index may change in between.
        """
        lo: tuple[int, ...] = (window.start,) if after is None else after
        hi = (window.end + 1,)
        if window.keys is None:
            inclusive = (after is None, False)
            positions = list(islice(self.transitions.irange(lo, hi, inclusive), size))
        else:
            slices = []
            for key in window.keys:
                line = self.lines.get(key)
                if line is not None:
                    changes = line.changes
                    first = bisect_left(changes, lo) if after is None else bisect_right(changes, lo)
                    slices.append(changes[first : min(first + size, bisect_left(changes, hi))])
            positions = list(islice(heapq.merge(*slices), size))
        found = []
        for position in positions:
            transition: Transition | None = self.transitions.get(position)
            if transition is not None and window.selects(transition):  # None: a first point
                found.append(transition)
        return found, positions[-1] if len(positions) == size else None

    def keys_after(self, after: str | None, limit: int) -> tuple[list[str], bool]:
        """Return up to `limit` keys with points after `after`, in order, and whether more
        follow."""
        keys = self.lines.irange(minimum=after, inclusive=(False, False))
        page = [key for _, key in zip(range(limit + 1), keys, strict=False)]
        return page[:limit], len(page) > limit

    def timelines(self) -> Iterator[tuple[str, list[Point]]]:
        """Yield every key and its points in order (for tests and checks)."""
        for key, line in self.lines.items():
            yield key, list(line.points)
