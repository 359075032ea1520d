"""A range's statistics gathered in sorted runs are those of one sort of every value."""

from __future__ import annotations

import math
import random

from hypothesis import given
from hypothesis import strategies as st

from eventd import ranks as ranges
from eventd.ranks import SortedRuns
from eventd.stats.ranges import RangeSummary
from eventd.stats.summaries import exact_summary

FLOATS = st.floats(allow_nan=False, allow_infinity=False)


def summary_of(values: list[float]) -> dict[str, object]:
    gathered = RangeSummary()
    for value in values:
        gathered.add(value)
    return gathered.summary()


def same(left: object, right: object) -> bool:
    """Tell whether two answers are equal, telling -0.0 from 0.0 as the JSON would."""
    return repr(left) == repr(right)


@given(st.lists(FLOATS | st.sampled_from([0.0, -0.0, 1.0, -1.0]), max_size=300))
def test_small_ranges_agree_with_one_sort(values: list[float]) -> None:
    assert same(summary_of(values), exact_summary(values))


def test_large_ranges_with_many_ties_agree_with_one_sort(monkeypatch: object) -> None:
    # Small runs, so that this size merges runs at several levels and keeps many of them.
    monkeypatch.setattr(ranges, "RUN", 8)  # type: ignore[attr-defined]
    monkeypatch.setattr(ranges, "MAX_RUN", 64)  # type: ignore[attr-defined]
    rng = random.Random(20)
    for size in (1, 7, 8, 9, 63, 64, 65, 1000, 5003):
        values = [rng.choice([0.0, -0.0, 2.5, -2.5, rng.uniform(-9, 9)]) for _ in range(size)]
        assert same(summary_of(values), exact_summary(values))


def test_every_rank_is_that_of_a_stable_sort(monkeypatch: object) -> None:
    monkeypatch.setattr(ranges, "RUN", 4)  # type: ignore[attr-defined]
    monkeypatch.setattr(ranges, "MAX_RUN", 16)  # type: ignore[attr-defined]
    rng = random.Random(7)
    values = [rng.choice([0.0, -0.0, 1.0, 3.0]) for _ in range(200)]
    runs = SortedRuns()
    for value in values:
        runs.add(value)
    assert len(runs.runs) > 2  # the ranks are picked among several runs
    # No merge, so no step of the loop, grows with the number of values.
    assert max(len(run) for run in runs.runs) < 2 * ranges.MAX_RUN
    ordered = sorted(values)
    for rank in range(len(values)):
        picked = runs.select(rank)
        assert picked == ordered[rank]
        assert math.copysign(1, picked) == math.copysign(1, ordered[rank])
