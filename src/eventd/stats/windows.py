"""Rolling windows over event values, kept incrementally by event time.

Values live in one-second buckets of a series (all events, and one series per type). A window
of length W at time `now` holds the buckets of the last W seconds, the current one included:
an event of now-59min is in the 1h window, one of now-61min is not, and a future-dated one
joins when its second comes. Each window keeps running state (exact sums, a DDSketch, the
bucket minima and maxima) that changes only where buckets enter, leave or change, so reading
a window does not grow with the events it holds (docs/benchmarks.md, scenario 4).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import msgspec

from eventd.stats.sketch import DDSketch, as_float, moments, scaled_both
from eventd.stats.summaries import PERCENTILES, Spread, empty, nearest_ranks, shape
from eventd.times import US

EXACT_PERCENTILES_UP_TO = 1000  # windows this small answer percentiles exactly
SKETCH_ERROR = 0.01  # the relative error of every window's percentiles
_KEYS = DDSketch(SKETCH_ERROR)  # only computes keys, the same for every window's sketch

# What one value adds to a window: its exact scaled value and square, and its sketch key.
# A value enters every window of two series (all events, and its type), so this is computed
# once per value and change.
Part = tuple[int, int, int | None]


def part(value: float) -> Part:
    total, square = scaled_both(value)
    return total, square, _KEYS.key(value)


class Bucket(msgspec.Struct, gc=False):
    """The values of one second, their extremes, and (in the series of all events) their ids.

    A bucket is not tracked by the garbage collector, and keeps its values in an array, which
    is not either: there is one bucket per second and series, and every full collection
    walked them all (docs/benchmarks.md, scenario 2, the objects the collector tracks).
    """

    values: array[float]
    low: float
    high: float
    ids: list[str] | None  # the events whose values these are, in no particular order

    @classmethod
    def of(cls, value: float, id: str | None) -> Bucket:
        return cls(array("d", (value,)), value, value, None if id is None else [id])

    def add(self, value: float, id: str) -> None:
        self.values.append(value)
        if self.ids is not None:
            self.ids.append(id)
        if value < self.low:
            self.low = value
        if value > self.high:
            self.high = value

    def discard(self, value: float, id: str) -> None:
        """Remove one of the values equal to `value` (equal floats are interchangeable)."""
        values = self.values
        if value == 0:  # 0.0 == -0.0, but their sign shows: remove one with the same sign
            sign = math.copysign(1.0, value)
            at = next(i for i, v in enumerate(values) if v == 0 and math.copysign(1.0, v) == sign)
        else:
            at = values.index(value)
        del values[at]
        if self.ids is not None:
            self.ids.remove(id)
        if value == self.low:
            self.low = min(values, default=math.inf)
        if value == self.high:
            self.high = max(values, default=-math.inf)


@dataclass(slots=True)
class Entering:
    """What a run of buckets adds to a window, summed once for every window it enters."""

    count: int = 0
    total: int = 0
    squares: int = 0
    keys: dict[int | None, int] = field(default_factory=dict)  # sketch key -> values
    low: float = math.inf
    high: float = -math.inf

    @classmethod
    def of(cls, buckets: list[Bucket]) -> Entering:
        entering = cls()
        keys = entering.keys
        for bucket in buckets:
            for value in bucket.values:
                total, square, key = part(value)
                entering.total += total
                entering.squares += square
                keys[key] = keys.get(key, 0) + 1
            entering.count += len(bucket.values)
            entering.low = min(entering.low, bucket.low)
            entering.high = max(entering.high, bucket.high)
        return entering


@dataclass(slots=True)
class Window:
    """Running state of one window over one series."""

    seconds: int
    first: int | None = None  # first bucket (second) inside, inclusive
    last: int | None = None  # last bucket inside, inclusive
    count: int = 0
    total: int = 0  # exact sum, scaled
    squares: int = 0  # exact sum of squares, scaled twice
    sketch: DDSketch = field(default_factory=lambda: DDSketch(SKETCH_ERROR))
    # Extremes grow in O(1) as values come; when one leaves, they are recomputed from the
    # buckets at the next read (`Series.refresh`), which is rare: a window's minimum or
    # maximum seldom sits in the second that slides out.
    low: float = math.inf
    high: float = -math.inf
    stale: bool = False

    def covers(self, second: int) -> bool:
        return (
            self.first is not None and self.last is not None and self.first <= second <= self.last
        )

    def add(self, value: float, parts: Part, weight: int) -> None:
        """Add (weight 1) or remove (weight -1) one value, whose `part` is `parts`."""
        total, square, key = parts
        self.count += weight
        self.sketch.add_key(key, weight)
        if weight > 0:
            self.total += total
            self.squares += square
            if value < self.low:
                self.low = value
            if value > self.high:
                self.high = value
            return
        self.total -= total
        self.squares -= square
        if self.count == 0:
            self.low, self.high, self.stale = math.inf, -math.inf, False
        elif value <= self.low or value >= self.high:
            self.stale = True

    def add_bucket(self, bucket: Bucket, weight: int) -> None:
        """Add or remove every value of `bucket`."""
        for value in bucket.values:
            self.add(value, part(value), weight)

    def enter(self, entering: Entering) -> None:
        """Add the values of buckets that slid in."""
        if not entering.count:
            return
        self.count += entering.count
        self.total += entering.total
        self.squares += entering.squares
        for key, count in entering.keys.items():
            self.sketch.add_key(key, count)
        self.low = min(self.low, entering.low)
        self.high = max(self.high, entering.high)


class Series:
    """The buckets of one series and its windows."""

    def __init__(self, windows: tuple[int, ...], *, keep_ids: bool = False) -> None:
        self.keep_ids = keep_ids
        # second -> Bucket. A plain dict, not a sorted one (docs/benchmarks.md, scenario 2);
        # ranges are walked by second or by bucket, whichever is fewer.
        self.buckets: dict[int, Bucket] = {}
        self.windows = {seconds: Window(seconds) for seconds in windows}
        # Every window ends at the same second (`advance` moves them together), so the
        # windows that hold a second are a run of the longest ones.
        self._longest_first = sorted(self.windows.values(), key=lambda w: w.seconds, reverse=True)

    def advance(self, now_second: int) -> None:
        """Slide every window so that it ends at `now_second`."""
        # The buckets that enter are mostly the same for every window (those that leave are
        # not): they are summed once per range, and each window adds the sum. A live value
        # enters every window of its two series this way.
        summed: dict[tuple[int, int], Entering] = {}

        def entering(first: int, last: int) -> Entering:
            known = summed.get((first, last))
            if known is None:
                known = summed[(first, last)] = Entering.of(self.between(first, last))
            return known

        for window in self.windows.values():
            first = now_second - window.seconds + 1
            if window.last is None or window.first is None:
                window.first, window.last = first, now_second
                window.enter(entering(first, now_second))
                continue
            if now_second == window.last:
                continue
            # Leave: buckets before the new start; enter: buckets after the old end.
            for bucket in self.between(window.first, min(first - 1, window.last)):
                window.add_bucket(bucket, -1)
            window.enter(entering(max(window.last + 1, first), now_second))
            window.first, window.last = first, now_second

    def change(self, second: int, value: float, parts: Part, weight: int, id: str) -> None:
        """Add (weight 1) or remove (weight -1) the value of event `id` at `second`."""
        bucket = self.buckets.get(second)
        if weight < 0:
            assert bucket is not None, "a removed value was in its bucket"
            bucket.discard(value, id)
            if not bucket.values:
                del self.buckets[second]
        elif bucket is None:
            self.buckets[second] = Bucket.of(value, id if self.keep_ids else None)
        else:
            bucket.add(value, id)
        for window in self._longest_first:
            first, last = window.first, window.last  # Window.covers, inline: the hot path
            if first is None or last is None or not first <= second <= last:
                break
            window.add(value, parts, weight)

    def drop_before(self, second: int) -> list[Bucket]:
        """Forget buckets before `second` (outside every window); return them."""
        old = [key for key in self.buckets if key < second]
        dropped = []
        for key in old:
            bucket = self.buckets.pop(key)
            dropped.append(bucket)
            for window in self.windows.values():
                if window.covers(key):
                    window.add_bucket(bucket, -1)
        return dropped

    def refresh(self, window: Window) -> None:
        """Recompute the window's extremes if one of them left it."""
        if window.stale and window.first is not None and window.last is not None:
            buckets = self.between(window.first, window.last)
            window.low = min((bucket.low for bucket in buckets), default=math.inf)
            window.high = max((bucket.high for bucket in buckets), default=-math.inf)
            window.stale = False

    def values_in(self, window: Window) -> Iterator[float]:
        if window.first is not None and window.last is not None:
            for bucket in self.between(window.first, window.last):
                yield from bucket.values

    def between(self, first: int, last: int) -> list[Bucket]:
        """Return the buckets from second `first` to `last`, both included, in no order."""
        buckets = self.buckets
        if last < first:
            return []
        if last - first < len(buckets):
            return [bucket for second in range(first, last + 1) if (bucket := buckets.get(second))]
        return [bucket for second, bucket in buckets.items() if first <= second <= last]


def summary(series: Series, window: Window) -> dict[str, Any]:
    """Return the statistics of one window: exact moments, percentiles with their error."""
    if window.count == 0:
        return empty()
    series.refresh(window)
    exact = moments(window.count, window.total, window.squares)
    low, high = window.low, window.high
    if window.count <= EXACT_PERCENTILES_UP_TO:
        spread = Spread(exact.stddev, nearest_ranks(sorted(series.values_in(window))))
    else:
        # An estimate past an extreme is no better than the extreme, and past the largest
        # float it is not a number.
        sketch = window.sketch
        estimates = {name: _between(low, sketch.quantile(q), high) for name, q in PERCENTILES}
        spread = Spread(exact.stddev, estimates, "ddsketch", sketch.relative_error)
    return shape(window.count, exact.sum, exact.mean, low, high, spread)


def _between(low: float, value: float | None, high: float) -> float | None:
    return None if value is None else min(max(value, low), high)


class RollingStats:
    """Windows over all events with a value, and per type; fed event by event."""

    def __init__(self, windows: tuple[int, ...]) -> None:
        self.window_seconds = tuple(sorted(windows))
        self.all = Series(self.window_seconds, keep_ids=True)  # `cleanup` reads its ids
        self.by_type: dict[str, Series] = {}
        self.points: dict[str, tuple[int, float, str]] = {}  # id -> (second, value, type)
        self.now_second: int | None = None
        # Bumped by every change; a summary is computed once per version and reused.
        self.version = 0
        self._summaries: dict[tuple[int, str | None], tuple[int, dict[str, Any]]] = {}

    def _series(self, type: str) -> Series:
        series = self.by_type.get(type)
        if series is None:
            series = self.by_type[type] = Series(self.window_seconds)
            if self.now_second is not None:
                series.advance(self.now_second)
        return series

    def upsert(self, id: str, ts: int, value: float | None, type: str) -> None:
        """Record the event's current value (None: it has none), replacing what was known."""
        if id in self.points:
            self.remove(id)
        second = ts // US
        horizon = self.horizon()
        if value is None or not math.isfinite(value) or (horizon is not None and second < horizon):
            # Before the longest window, a value can never enter one (windows only move
            # forward): an import of old events costs the windows nothing.
            return
        self.version += 1
        self.points[id] = (second, value, type)
        parts = part(value)
        self.all.change(second, value, parts, +1, id)
        series = self.by_type.get(type) or self._series(type)
        series.change(second, value, parts, +1, id)

    def remove(self, id: str) -> None:
        known = self.points.pop(id, None)
        if known is None:
            return
        self.version += 1
        second, value, type = known
        parts = part(value)
        self.all.change(second, value, parts, -1, id)
        series = self.by_type[type]
        series.change(second, value, parts, -1, id)
        if not series.buckets:
            del self.by_type[type]

    def clear(self) -> list[dict[Any, Any]]:
        """Forget every value; return the large containers that held them, for the caller to
        free a slice at a time (freeing them at once takes about as long as filling them)."""
        held: list[dict[Any, Any]] = [self.points, self.all.buckets]
        held += [series.buckets for series in self.by_type.values()]
        version = self.version
        self.__init__(self.window_seconds)  # type: ignore[misc]
        self.version = version + 1
        return held

    def advance(self, now: int) -> None:
        """Slide every window to end at `now` (microseconds)."""
        second = now // US
        if second == self.now_second:
            return
        self.now_second = second
        self.version += 1
        self.all.advance(second)
        for series in self.by_type.values():
            series.advance(second)

    def horizon(self) -> int | None:
        """Return the first second of the longest window; None before the first advance."""
        return None if self.now_second is None else self.horizon_at(self.now_second)

    def horizon_at(self, now_second: int) -> int:
        """Return the first second of the longest window when it ends at `now_second`."""
        return now_second - self.window_seconds[-1] + 1

    def cleanup(self) -> int:
        """Forget values that have left the longest window; return how many buckets went."""
        horizon = self.horizon()
        if horizon is None:
            return 0
        dropped = self.all.drop_before(horizon)
        for type, series in list(self.by_type.items()):
            series.drop_before(horizon)
            if not series.buckets:
                del self.by_type[type]
        for bucket in dropped:  # what the buckets still held is current: forget it
            for id in bucket.ids or ():
                del self.points[id]
        if dropped:
            self.version += 1
        return len(dropped)

    def summary(self, seconds: int, type: str | None = None) -> dict[str, Any]:
        """Return one window's statistics; the same dict until something changes."""
        cached = self._summaries.get((seconds, type))
        if cached is not None and cached[0] == self.version:
            return cached[1]
        series = self.all if type is None else self.by_type.get(type)
        if series is None:
            result = summary(Series((seconds,)), Window(seconds))
        else:
            result = summary(series, series.windows[seconds])
        if len(self._summaries) > 1024:  # one entry per (window, type) asked for
            self._summaries.clear()
        self._summaries[(seconds, type)] = (self.version, result)
        return result


def history_point(series: Series | None, end_second: int, seconds: int) -> dict[str, Any]:
    """Return count, sum, min, max and mean of the window of `seconds` ending at `end_second`."""
    values: list[float] = []
    if series is not None:
        for bucket in series.between(end_second - seconds + 1, end_second):
            values.extend(bucket.values)
    if not values:
        return empty(spread=None)
    total: float | None
    try:
        total = math.fsum(values)
        mean = total / len(values)
    except OverflowError:  # a sum beyond a float (or on the way to one): add exactly
        exact = sum(map(Fraction, values), Fraction(0))
        total, mean = as_float(exact), float(exact / len(values))
    return shape(len(values), total, mean, min(values), max(values))
