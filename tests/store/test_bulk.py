"""Keys into sorted indexes, and structures emptied, a slice at a time."""

from __future__ import annotations

import random

import pytest
from sortedcontainers import SortedList

from eventd.pacing import done
from eventd.store import bulk


@pytest.mark.parametrize(
    ("stored", "added"),
    [(0, 30_000), (10_000, 30_000), (100_000, 20_000), (2_000, 500), (5, 9_000)],
    ids=["empty", "merged", "one-by-one", "small", "tiny-index"],
)
def test_add_keys_gives_what_update_gives(stored: int, added: int) -> None:
    rng = random.Random(stored + added)
    old = rng.sample(range(10**9), stored)
    new = rng.sample(range(10**9, 2 * 10**9), added // 2) + rng.sample(range(10**9), added // 2)
    index = SortedList(old)
    steps = sum(1 for _ in bulk.add_keys(index, new))
    index._check()  # sortedcontainers' own check of its invariants
    assert list(index) == sorted(old + new)
    index.add(-1)  # and it goes on working
    index.remove(old[0] if old else new[0])
    index._check()
    if added > bulk.ADD_SLICE:
        assert steps > 1


def test_sorted_keys_sorts_in_several_steps() -> None:
    keys = random.Random(1).sample(range(10**9), 5 * bulk.SORT_SLICE)
    work = bulk.sorted_keys(keys)
    steps = 0
    while True:
        try:
            next(work)
        except StopIteration as stop:
            result = stop.value
            break
        steps += 1
    assert result == sorted(keys)
    assert steps >= 5


def test_dropped_empties_nested_structures_in_steps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk, "DROP_SLICE", 100)
    big = SortedList(range(50_000))
    nested = {"a": SortedList(range(5_000)), "b": {i: i for i in range(1_000)}}
    flat = {i: str(i) for i in range(1_000)}
    steps = sum(1 for _ in bulk.dropped([nested, big, flat]))
    assert not nested and not big and not flat
    assert steps >= 30
    done(bulk.add_keys(big, [3, 1, 2]))
    assert list(big) == [1, 2, 3]
