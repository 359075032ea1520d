"""Many keys into, and many objects out of, the memory engine's structures a slice at a time.

Each function is a `pacing.Work` generator: it yields between slices, and the caller runs it
with `pacing.paced`, which lets the event loop turn between them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from typing import Any

from sortedcontainers import SortedList

from eventd.pacing import Work, slices

SORT_SLICE = 8192  # keys sorted per step: a C sort of this many takes a millisecond or two
ADD_SLICE = 1024  # keys added one by one per step
DROP_SLICE = 4096  # dict entries released per step
DROP_SUBLISTS = 4  # sublists of a SortedList (about a thousand keys each) released per step


def sorted_keys(keys: list[Any]) -> Work[list[Any]]:
    """Return `keys` sorted: runs of `SORT_SLICE` sorted apart, then merged pairwise (a sort
    of two sorted runs merges them, in time in proportion to their length)."""
    runs = []
    for part in slices(keys, SORT_SLICE):
        runs.append(sorted(part))
        yield
    while len(runs) > 1:
        merged = []
        for at in range(0, len(runs), 2):
            pair = runs[at] + runs[at + 1] if at + 1 < len(runs) else runs[at]
            pair.sort()
            merged.append(pair)
            yield
        runs = merged
    return runs[0] if runs else []


def add_keys(index: SortedList, keys: list[Any]) -> Work[None]:
    """Add `keys` to `index` as `SortedList.update` would, a slice at a time."""
    if len(keys) <= ADD_SLICE:
        index.update(keys)
        return
    ordered = yield from sorted_keys(keys)
    if not index:
        index.update(ordered)  # sorted already: update() only cuts it into sublists
        return
    if len(ordered) * 4 >= len(index):
        # Where update() would merge everything in one C sort, merge a slice at a time.
        merged = yield from _merged(list(index), ordered)
        yield from _refilled(index, merged)
        return
    add = index.add  # a few keys into a large index: one by one, as update() does
    for part in slices(ordered, ADD_SLICE):
        for key in part:
            add(key)
        yield


def _merged(old: list[Any], new: list[Any]) -> Work[list[Any]]:
    """Merge two sorted lists, up to `SORT_SLICE` keys of each per step."""
    merged: list[Any] = []
    a = i = 0
    while a < len(old) and i < len(new):
        cut = min(old[min(a + SORT_SLICE, len(old)) - 1], new[min(i + SORT_SLICE, len(new)) - 1])
        a_end, i_end = bisect_right(old, cut, a), bisect_right(new, cut, i)
        run = old[a:a_end] + new[i:i_end]
        run.sort()  # two sorted runs: a merge
        merged += run
        a, i = a_end, i_end
        yield
    merged += old[a:]
    merged += new[i:]
    return merged


def _refilled(index: SortedList, ordered: list[Any]) -> Work[None]:
    # What update() does with sorted keys on an empty SortedList, without its sort of them
    # all: cut them into sublists of its load, and note each one's last key. The attributes
    # are sortedcontainers' documented implementation (`_lists`, `_maxes`, `_len`, `_index`).
    load = index._load
    sublists: list[list[Any]] = []
    for start in range(0, len(ordered), load * 64):
        sublists += [ordered[at : at + load] for at in range(start, start + load * 64, load)]
        yield
    sublists = [sublist for sublist in sublists if sublist]
    index._lists = sublists
    index._maxes = [sublist[-1] for sublist in sublists]
    index._len = len(ordered)
    del index._index[:]


def dropped(containers: Iterable[dict[Any, Any] | SortedList]) -> Work[None]:
    """Empty dicts and sorted lists a slice at a time (nested ones too), so that freeing what
    they held is spread over many steps."""
    for container in containers:
        if isinstance(container, SortedList):
            yield from _dropped_sorted(container)
            continue
        while container:
            for _ in range(min(DROP_SLICE, len(container))):
                value = container.popitem()[1]
                if isinstance(value, dict | SortedList) and len(value) > DROP_SLICE:
                    yield from dropped([value])
            yield


def _dropped_sorted(index: SortedList) -> Work[None]:
    # A SortedList keeps its keys in sublists (`_lists`), which it offers no public way to
    # release in parts; it is garbage here, so its sublists are dropped a few at a time.
    sublists: list[list[Any]] = index._lists
    while sublists:
        del sublists[-DROP_SUBLISTS:]
        yield
    index.clear()
