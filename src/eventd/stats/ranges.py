"""Exact statistics of a range of any size, taken in value by value, never sorted in one go.

`GET /stats?start=&end=` reads every event of the range; its answer is the one
`summaries.exact_summary` gives for the same values in the same order.
"""

from __future__ import annotations

from typing import Any

from eventd.ranks import SortedRuns
from eventd.stats.sketch import moments, scaled_both
from eventd.stats.summaries import PERCENTILES, Spread, empty, shape


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
