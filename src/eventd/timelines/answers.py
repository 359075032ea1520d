"""Transitions answers that grow with the data, built a slice per turn of the event loop.

A window of the index, the timelines of a scan, and the pairs summed up from them can each
hold every event of the store: built in one go they held the loop for as long (issue 20).
Here every loop takes `SLICE` items and then yields; the answers are those of
`points.summarize` and `points.transitions_of`. Scans of the store are paced the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from eventd.model import Event
from eventd.ranks import SortedRuns
from eventd.timelines.index import FieldIndex
from eventd.timelines.points import (
    Dwells,
    Pair,
    Point,
    Transition,
    Window,
    add_dwells,
    by_frequency,
    entry,
    entry_of,
    nearest_rank,
)
from eventd.times import US

SLICE = 1000  # items taken in between two yields to the loop
# Events of the store read between two yields: each may decode its data to read a field.
EVENT_SLICE = 200


async def paced(events: AsyncIterator[Event]) -> AsyncIterator[Event]:
    """Yield the events of a scan, yielding to the loop every `EVENT_SLICE` of them (a scan
    reads a store page of them at once)."""
    taken = 0
    async for event in events:
        yield event
        taken += 1
        if taken % EVENT_SLICE == 0:
            await asyncio.sleep(0)


async def indexed(index: FieldIndex, window: Window) -> list[Transition]:
    """Return the transitions of `window` in the index, read a slice at a time."""
    found: list[Transition] = []
    after = None
    while True:
        some, after = index.window_slice(window, after, SLICE)
        found.extend(some)
        if after is None:
            return found
        await asyncio.sleep(0)


async def scanned(lines: list[tuple[str, list[Point]]], window: Window) -> list[Transition]:
    """Return the transitions in `window` of whole timelines (key, points in order), which
    it takes out of `lines`: each line is freed once read, not all at the end at once."""
    found: list[Transition] = []
    taken = 0
    lines.reverse()
    while lines:
        key, points = lines.pop()
        last: Point | None = None  # the last change
        for point in points:
            if last is None or last.canon != point.canon:
                if last is not None and window.start <= point.ts <= window.end:
                    dwell = point.ts - last.ts
                    made = Transition(key, last.canon, point.canon, dwell, point.type)
                    if window.selects(made):
                        found.append(made)
                last = point
            taken += 1
            if taken % SLICE == 0:
                await asyncio.sleep(0)
    return found


async def pairs(transitions: list[Transition]) -> list[Pair]:
    """Return `points.pairs(transitions)`, a slice of transitions, then a pair, at a time.

    It takes the transitions out of the list as it reads them, so that they are freed a
    slice at a time too (a pair's figures do not depend on the order of its dwells)."""
    dwells: Dwells = {}
    while transitions:
        add_dwells(dwells, transitions[-SLICE:])
        del transitions[-SLICE:]
        await asyncio.sleep(0)
    made = []
    for source, target in by_frequency(dwells):
        made.append(Pair(source, target, await _entry(source, target, dwells[source, target])))
        await asyncio.sleep(0)
    return made


async def _entry(source: str, target: str, dwells: list[int]) -> dict[str, object]:
    """Return `points.entry(source, target, dwells)`; many dwells are not sorted in one go
    but taken into sorted runs a slice at a time, their ranks picked from those."""
    count = len(dwells)
    if count <= SLICE:
        return entry(source, target, dwells)
    runs = SortedRuns()
    for start in range(0, count, SLICE):
        for dwell in dwells[start : start + SLICE]:
            runs.add(dwell)
        await asyncio.sleep(0)
    stats = {
        "mean": sum(dwells) / count / US,  # integers: the sum does not depend on the order
        "p50": runs.select(nearest_rank(50, count)) / US,
        "p90": runs.select(nearest_rank(90, count)) / US,
        "max": runs.select(count - 1) / US,
    }
    return entry_of(source, target, count, stats)


async def summarize(transitions: list[Transition]) -> list[dict[str, object]]:
    """Return `points.summarize(transitions)`, taking the transitions out of the list."""
    return [pair.answer for pair in await pairs(transitions)]
