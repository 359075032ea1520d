"""Timelines as data: the present values of one field along each key, and their transitions.

A key's timeline is the events of that key in `(ts, seq)` order (equal timestamps keep their
insertion order). An event is a *point* of the timeline where the field is present (JSON
`null` is a present value; a missing one is not). A *change* is a point whose value differs,
by JSON equality, from the previous point's; the first point is a change. A *transition* is
every change but the first: from the previous change's value to its own, at its own time,
with a dwell of the time since the previous change, and the `type` of its event.

`transitions_of` computes the transitions of a window from whole timelines by brute force:
the scan of `/transitions` for fields that are not indexed, and the reference that the tests
compare the incremental index (`index.py`) with.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgspec

from eventd.times import US


class Point(msgspec.Struct, frozen=True, order=True, gc=False):
    """A present value on a key's timeline; `canon` is the value's canonical JSON text.

    Points and transitions are kept for every event of an indexed field, so they are not
    tracked by the garbage collector, which would walk them all at every full collection (a
    named tuple always is); nor then is a tuple that holds only them and strings. Points sort
    by `(ts, seq)`, their first fields.
    """

    ts: int
    seq: int
    canon: str
    event_id: str
    type: str


class Transition(msgspec.Struct, frozen=True, gc=False):
    """A change of value on `key` at the time of the event where `to` appears."""

    key: str
    source: str  # canonical JSON of the value left
    target: str  # canonical JSON of the value entered
    dwell: int  # µs since the previous change of `key`
    type: str  # of the event where `target` appears


@dataclass(frozen=True, slots=True)
class Window:
    """Which transitions a question counts: by time (inclusive), values, type and key."""

    start: int
    end: int
    source: str | None = None  # canonical JSON, as `Transition.source`
    target: str | None = None
    types: frozenset[str] | None = None
    keys: frozenset[str] | None = None

    def selects(self, transition: Transition) -> bool:
        """Tell whether `transition` (already within the times) passes the other filters."""
        return (
            (self.source is None or transition.source == self.source)
            and (self.target is None or transition.target == self.target)
            and (self.types is None or transition.type in self.types)
            and (self.keys is None or transition.key in self.keys)
        )


def changes_of(points: Sequence[Point]) -> list[Point]:
    """Return the changes of a timeline's points, given in order."""
    changes: list[Point] = []
    for point in points:
        if not changes or changes[-1].canon != point.canon:
            changes.append(point)
    return changes


def transitions_of(timelines: Iterable[tuple[str, Sequence[Point]]], window: Window) -> list[Any]:
    """Return the transitions in `window` of whole timelines (key, points in order), summed
    up as `/transitions` answers them."""
    selected: list[Transition] = []
    for key, points in timelines:
        changes = changes_of(points)
        for before, after in itertools.pairwise(changes):
            if not window.start <= after.ts <= window.end:
                continue
            transition = Transition(
                key, before.canon, after.canon, after.ts - before.ts, after.type
            )
            if window.selects(transition):
                selected.append(transition)
    return summarize(selected)


class Pair(NamedTuple):
    """The figures of one (from, to) pair, keyed by the values' canonical JSON."""

    source: str
    target: str
    answer: dict[str, Any]


def pairs(transitions: Iterable[Transition]) -> list[Pair]:
    """Return the count and dwell statistics of each (from, to) pair: most frequent first,
    then by the values' canonical JSON."""
    dwells: Dwells = {}
    add_dwells(dwells, transitions)
    return [Pair(s, t, entry(s, t, dwells[s, t])) for s, t in by_frequency(dwells)]


Dwells = dict[tuple[str, str], list[int]]  # (from, to) -> the dwell of each transition


def add_dwells(dwells: Dwells, transitions: Iterable[Transition]) -> None:
    """Add the dwell of each transition to its pair's."""
    for transition in transitions:
        dwells.setdefault((transition.source, transition.target), []).append(transition.dwell)


def by_frequency(dwells: Dwells) -> list[tuple[str, str]]:
    """Return the pairs, most frequent first, then by the values' canonical JSON."""
    return sorted(dwells, key=lambda pair: (-len(dwells[pair]), pair))


def summarize(transitions: Iterable[Transition]) -> list[dict[str, Any]]:
    """Return the pairs of `transitions` as `/transitions` answers them."""
    return [pair.answer for pair in pairs(transitions)]


def entry(source: str, target: str, dwells: list[int]) -> dict[str, Any]:
    """Return one pair's member of a `/transitions` answer; `dwells` in µs, any order."""
    return entry_of(source, target, len(dwells), dwell_stats(dwells))


def entry_of(source: str, target: str, count: int, stats: dict[str, Any]) -> dict[str, Any]:
    """Return one pair's member of a `/transitions` answer from its dwell statistics."""
    return {"from": decode(source), "to": decode(target), "count": count, "dwell_seconds": stats}


def dwell_stats(dwells: list[int]) -> dict[str, float | None]:
    """Return mean, p50, p90 and max of dwells in µs, in seconds; percentiles by nearest rank
    (the smallest dwell with at least p% of them at or below it)."""
    if not dwells:
        return {"mean": None, "p50": None, "p90": None, "max": None}
    ordered = sorted(dwells)
    count = len(ordered)
    # Summed as integers, so that the result does not depend on the order of the dwells.
    return {
        "mean": sum(ordered) / count / US,
        "p50": ordered[nearest_rank(50, count)] / US,
        "p90": ordered[nearest_rank(90, count)] / US,
        "max": ordered[-1] / US,
    }


def nearest_rank(percent: int, count: int) -> int:
    """Return the index of the p-th percentile by nearest rank in `count` sorted values."""
    return max(0, (percent * count + 99) // 100 - 1)


def decode(canon: str) -> Any:
    """Return the JSON value whose canonical text is `canon`."""
    return msgspec.json.decode(canon)
