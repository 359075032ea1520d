"""Values by rank without one long sort: sorted runs, merged while small, ranks picked out.

Sorting many values at once holds the event loop for as long as the sort takes (issue 20):
`GET /stats?start=&end=` and `/transitions` sorted every value of their answer. Here values
are sorted on arrival into runs of `RUN`, adjacent runs are merged while they stay under
`MAX_RUN`, and a rank's value is picked from the runs. No step grows with the number of
values, and the value of a rank is the one a stable sort of every value puts there.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right

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
