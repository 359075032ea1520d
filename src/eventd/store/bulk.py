"""Many keys into, and many objects out of, the memory engine's structures a slice at a time.

Each function is a `pacing.Work` generator: it yields between slices, and the caller runs it
with `pacing.paced`, which lets the event loop turn between them.
"""

from __future__ import annotations

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
    runs = [sorted(part) for part in slices(keys, SORT_SLICE)]
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
    if not index or len(ordered) * 4 >= len(index):
        # update() merges the two sorted runs in C and cuts the result into sublists: its
        # time is in proportion to the index, at most five times the keys added.
        index.update(ordered)
        return
    add = index.add  # a few keys into a large index: one by one, as update() does
    for part in slices(ordered, ADD_SLICE):
        for key in part:
            add(key)
        yield


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
