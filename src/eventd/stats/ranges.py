"""Exact statistics of a range of any size, taken in value by value, never sorted in one go.

`GET /stats?start=&end=` reads every event of the range. Sorting all of their values at the
end held the event loop for as long as the sort took; here each page's values are sorted on
arrival into runs, adjacent runs are merged while they stay small, and the percentiles are
picked from the runs by rank. Each step is bounded by `MAX_RUN`, whatever the range's size.
The answer is the one `summaries.exact_summary` gives for the same values in the same order.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

from eventd.stats.sketch import moments, scaled_both
from eventd.stats.summaries import PERCENTILES, Spread, empty, shape

RUN = 1024  # values sorted together as they come
MAX_RUN = 1 << 16  # runs are merged up to this length: one merge is one step of the loop


class SortedRuns:
    """Values kept as sorted runs in the order they came; the value of a rank is read without
    sorting them all.

    Runs are sorted and merged stably, earlier runs first, so a rank's value is the one a
    stable sort of every value would put there (which matters for -0.0 and 0.0, equal but
    shown differently).
    """

    def __init__(self) -> None:
        self.runs: list[list[float]] = []
        self.pending: list[float] = []
        self.count = 0

    def add(self, value: float) -> None:
        """Take in one value."""
        self.pending.append(value)
        self.count += 1
        if len(self.pending) >= RUN:
            self.flush()

    def flush(self) -> None:
        """Sort the values not yet in a run into one; merge equal-sized neighbours."""
        if not self.pending:
            return
        runs = self.runs
        runs.append(sorted(self.pending))
        self.pending = []
        # As a binary counter: each value is merged O(log(MAX_RUN / RUN)) times in all.
        while len(runs) > 1 and len(runs[-2]) <= len(runs[-1]) and len(runs[-2]) < MAX_RUN:
            last = runs.pop()
            runs[-1] = sorted(runs[-1] + last)  # two sorted runs: timsort merges them

    def select(self, rank: int) -> float:
        """Return the value at `rank` (from 0) in the stable order of every value taken in."""
        self.flush()
        runs = self.runs
        lo = [0] * len(runs)
        hi = [len(run) for run in runs]
        while True:
            # The middle of the widest run left: each round at least halves that run.
            widest = max(range(len(runs)), key=lambda i: hi[i] - lo[i])
            pivot = runs[widest][(lo[widest] + hi[widest]) // 2]
            below = [bisect_left(run, pivot, lo[i], hi[i]) for i, run in enumerate(runs)]
            upto = [bisect_right(run, pivot, lo[i], hi[i]) for i, run in enumerate(runs)]
            less = sum(b - a for a, b in zip(lo, below, strict=True))
            equal = sum(b - a for a, b in zip(below, upto, strict=True))
            if rank < less:
                hi = below
            elif rank < less + equal:
                return _among_equal(runs, below, upto, rank - less)
            else:
                rank -= less + equal
                lo = upto


def _among_equal(runs: list[list[float]], below: list[int], upto: list[int], nth: int) -> float:
    """Return the `nth` of the values equal to each other at runs[i][below[i]:upto[i]], in
    the order they came: by run, then within it."""
    for run, first, end in zip(runs, below, upto, strict=True):
        if nth < end - first:
            return run[first + nth]
        nth -= end - first
    raise AssertionError("the rank lies among the equal values")


class RangeSummary:
    """Count, sum, min, max, mean, stddev and percentiles of values taken in one at a time."""

    def __init__(self) -> None:
        self.values = SortedRuns()
        self.total = 0  # scaled, as `scaled_both` gives it: exact
        self.squares = 0

    def add(self, value: float) -> None:
        """Take in one value."""
        total, square = scaled_both(value)
        self.total += total
        self.squares += square
        self.values.add(value)

    def summary(self) -> dict[str, Any]:
        """Return the statistics as `summaries.exact_summary` gives them."""
        count = self.values.count
        if not count:
            return empty()
        exact = moments(count, self.total, self.squares)
        last = count - 1
        percentiles: dict[str, float | None] = {
            name: self.values.select(int(q * last)) for name, q in PERCENTILES
        }
        low, high = self.values.select(0), self.values.select(last)
        return shape(count, exact.sum, exact.mean, low, high, Spread(exact.stddev, percentiles))
