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
        index.update(keys)  # a small step: at most a few thousand keys sorted or added
        yield
        return
    ordered = yield from sorted_keys(keys)
    if not index:
        index.update(ordered)  # sorted already: update() only cuts it into sublists
        return
    if len(ordered) * 4 >= len(index):
        yield from _merged_into(index, ordered)  # where update() would sort them all
        return
    add = index.add  # a few keys into a large index: one by one, as update() does
    for part in slices(ordered, ADD_SLICE):
        for key in part:
            add(key)
        yield


def _merged_into(index: SortedList, new: list[Any]) -> Work[None]:
    """Merge sorted `new` keys into `index`, one of its sublists at a time.

    What update() does in one C sort of every key, done in steps, and without a flat copy of
    the index: a large temporary list costs the cyclic collector a pass over all its items.
    The attributes are sortedcontainers' documented implementation (`_lists`, `_maxes`,
    `_len`, `_load`, `_index`).
    """
    load = index._load
    lists: list[list[Any]] = []
    pending: list[Any] = []
    taken = 0

    def cut(keys: list[Any]) -> list[Any]:
        """Append `keys` after the pending ones, keep whole sublists, return the rest."""
        keys = pending + keys
        whole = len(keys) // load * load
        lists.extend(keys[at : at + load] for at in range(0, whole, load))
        return keys[whole:]

    for sublist in index._lists:
        upto = bisect_right(new, sublist[-1], taken)
        run = sublist + new[taken:upto]
        run.sort()  # two sorted runs: a merge
        taken = upto
        pending = cut(run)
        yield
    for part in slices(new[taken:], SORT_SLICE):
        pending = cut(list(part))
        yield
    if pending:
        lists.append(pending)
    size = len(index) + len(new)
    index._lists = lists
    index._maxes = [sublist[-1] for sublist in lists]
    index._len = size
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
