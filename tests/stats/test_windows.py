"""Rolling windows against brute force, with an injected clock (no sleeping)."""

from __future__ import annotations

import math
import sys
from fractions import Fraction

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from eventd.stats.sketch import DDSketch
from eventd.stats.windows import RollingStats

US = 1_000_000
NOW = 1_750_000_000 * US
MINUTE = 60 * US


def stats_at(now: int = NOW) -> RollingStats:
    stats = RollingStats((300, 900, 3600, 86400))
    stats.advance(now)
    return stats


def test_boundaries_of_the_hour_window() -> None:
    stats = stats_at()
    stats.upsert("old", NOW - 61 * MINUTE, 1.0, "t")
    stats.upsert("in", NOW - 59 * MINUTE, 2.0, "t")
    stats.upsert("future", NOW + 86400 * US, 100.0, "t")
    hour = stats.summary(3600)
    assert (hour["count"], hour["sum"], hour["max"]) == (1, 2.0, 2.0)
    assert stats.summary(86400)["count"] == 2
    stats.advance(NOW + 86400 * US)  # the future event's time has come
    assert stats.summary(300)["max"] == 100.0
    assert stats.summary(300)["count"] == 1


def test_late_arrivals_land_in_their_own_time() -> None:
    stats = stats_at()
    stats.upsert("late", NOW - 10 * MINUTE, 5.0, "t")  # arrives now, happened 10 min ago
    assert stats.summary(300)["count"] == 0
    assert stats.summary(900)["count"] == 1


def test_updates_and_deletes_correct_the_windows() -> None:
    stats = stats_at()
    stats.upsert("a", NOW - MINUTE, 1.0, "t")
    stats.upsert("b", NOW - MINUTE, 9.0, "t")
    stats.upsert("a", NOW - MINUTE, 4.0, "t")  # updated value
    stats.upsert("b", NOW - 2 * 3600 * US, 9.0, "t")  # moved out of the hour
    hour = stats.summary(3600)
    assert (hour["count"], hour["min"], hour["max"]) == (1, 4.0, 4.0)
    stats.remove("a")
    assert stats.summary(3600)["count"] == 0
    assert stats.summary(86400)["count"] == 1
    stats.upsert("b", NOW, None, "t")  # lost its value
    assert stats.summary(86400)["count"] == 0


def test_breakdown_by_type() -> None:
    stats = stats_at()
    stats.upsert("a", NOW, 1.0, "x")
    stats.upsert("b", NOW, 3.0, "y")
    assert stats.summary(300, "x")["sum"] == 1.0
    assert stats.summary(300, "y")["sum"] == 3.0
    assert stats.summary(300)["sum"] == 4.0
    assert stats.summary(300, "nothing")["count"] == 0


def test_nan_and_infinity_never_enter() -> None:
    stats = stats_at()
    stats.upsert("nan", NOW, math.nan, "t")
    stats.upsert("inf", NOW, math.inf, "t")
    stats.upsert("ok", NOW, 1.0, "t")
    assert stats.summary(300)["count"] == 1
    assert stats.summary(300)["mean"] == 1.0


def test_cleanup_forgets_what_left_every_window() -> None:
    stats = stats_at()
    stats.upsert("a", NOW - 86000 * US, 1.0, "t")
    stats.upsert("b", NOW, 2.0, "t")
    stats.advance(NOW + 1000 * US)
    assert stats.cleanup() == 1
    assert set(stats.points) == {"b"}
    assert stats.summary(86400)["count"] == 1


def test_values_before_every_window_are_not_kept() -> None:
    stats = stats_at()
    stats.upsert("old", NOW - 86400 * US, 1.0, "t")  # one second before the 24h window
    stats.upsert("edge", NOW - 86399 * US, 2.0, "t")  # its first second
    assert set(stats.points) == {"edge"}
    assert stats.summary(86400)["count"] == 1
    # Moved back in time, an event leaves the windows; deleting an unkept one is no error.
    stats.upsert("edge", NOW - 2 * 86400 * US, 2.0, "t")
    stats.remove("old")
    assert stats.points == {}
    assert stats.summary(86400)["count"] == 0
    assert stats.by_type == {} and stats.all.buckets == {}


points = st.lists(
    st.tuples(
        # seconds relative to now; a few shared seconds put several values in one bucket
        st.integers(-30 * 3600, 3 * 3600) | st.sampled_from([-3600, -61, -1, 0]),
        # repeated values make ties among a bucket's extremes
        st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
        | st.sampled_from([-2.0, 0.0, 5.0]),
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(points=points, steps=st.lists(st.integers(0, 4000), max_size=4), deletes=st.integers(0, 10))
def test_exact_statistics_match_brute_force(
    points: list[tuple[int, float]], steps: list[int], deletes: int
) -> None:
    stats = stats_at()
    for i, (offset, value) in enumerate(points):
        stats.upsert(str(i), NOW + offset * US, value, "t")
    for i in range(min(deletes, len(points))):
        stats.remove(str(i))
    now = NOW
    for step in steps:
        now += step * US
        stats.advance(now)
    kept = points[deletes:]
    before = {seconds: stats.summary(seconds) for seconds in (300, 86400)}
    stats.cleanup()  # forgets only what every window has left
    assert {seconds: stats.summary(seconds) for seconds in (300, 86400)} == before
    horizon = now // US - 86400 + 1
    assert {id for id, (second, _, _) in stats.points.items() if second < horizon} == set()
    assert len(stats.points) == sum(1 for off, _ in kept if NOW // US + off >= horizon)
    for seconds in (300, 900, 3600, 86400):
        inside = [v for off, v in kept if now // US - seconds < (NOW // US + off) <= now // US]
        got = stats.summary(seconds)
        assert got["count"] == len(inside)
        if not inside:
            assert got["mean"] is None
            continue
        exact = [Fraction(v) for v in inside]
        mean = sum(exact) / len(exact)
        assert got["sum"] == float(sum(exact))
        assert got["mean"] == float(mean)
        assert (got["min"], got["max"]) == (min(inside), max(inside))
        variance = sum((x - mean) ** 2 for x in exact) / len(exact)
        assert got["stddev"] == pytest.approx(math.sqrt(variance), rel=1e-12, abs=1e-12)
        ordered = sorted(inside)
        assert got["p50"] == ordered[int(0.5 * (len(ordered) - 1))]
        assert got["percentiles"]["method"] == "exact"


@settings(max_examples=30, deadline=None)
@given(
    values=st.lists(
        st.floats(-1e9, 1e9, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-300),
        min_size=1,
        max_size=3000,
    )
)
def test_sketch_quantiles_are_within_the_stated_error(values: list[float]) -> None:
    sketch = DDSketch(0.01)
    for value in values:
        sketch.add(value)
    ordered = sorted(values)
    for q in (0.0, 0.5, 0.9, 0.99, 1.0):
        truth = ordered[int(q * (len(ordered) - 1))]
        estimate = sketch.quantile(q)
        assert estimate is not None
        assert abs(estimate - truth) <= 0.01 * abs(truth) + 1e-300


def test_large_windows_state_the_sketch_error() -> None:
    stats = stats_at()
    for i in range(5000):
        stats.upsert(str(i), NOW - i * 10_000, float(i + 1), "t")
    hour = stats.summary(3600)
    assert hour["count"] == 5000
    assert hour["percentiles"] == {"method": "ddsketch", "relative_error": 0.01}
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        truth = float(int(q * 4999) + 1)
        assert abs(hour[name] - truth) <= 0.01 * truth


def test_a_window_holds_exactly_its_last_seconds() -> None:
    stats = stats_at()  # NOW is on a whole second
    stats.upsert("edge-out", NOW - 3600 * US, 1.0, "t")
    stats.upsert("edge-in", NOW - 3599 * US, 2.0, "t")
    stats.upsert("now", NOW + US - 1, 3.0, "t")  # later within the current second
    stats.upsert("next", NOW + US, 4.0, "t")
    assert stats.summary(3600)["sum"] == 5.0


@settings(max_examples=100, deadline=None)
@given(
    points=points,
    steps=st.lists(st.integers(0, 4000), max_size=4),
    changes=st.lists(
        st.tuples(st.integers(0, 59), st.sampled_from([None, 0.0, -0.0, 7.5])), max_size=20
    ),
)
def test_every_window_sketch_counts_exactly_the_values_inside(
    points: list[tuple[int, float]],
    steps: list[int],
    changes: list[tuple[int, float | None]],
) -> None:
    # The sketch, sums and extremes are kept incrementally through adds, updates, removals
    # and slides; they must equal what a fresh computation over the window's values gives.
    stats = stats_at()
    for i, (offset, value) in enumerate(points):
        stats.upsert(str(i), NOW + offset * US, value, "t" if i % 2 else "u")
    for i, value in changes:  # updates (a new value, or None: removed) of existing ids
        if i < len(points):
            stats.upsert(str(i), NOW + points[i][0] * US, value, "t")
    now = NOW
    for step in steps:
        now += step * US
        stats.advance(now)
    for series in (stats.all, *stats.by_type.values()):
        for window in series.windows.values():
            inside = list(series.values_in(window))
            fresh = DDSketch(0.01)
            for value in inside:
                fresh.add(value)
            assert window.count == len(inside) == window.sketch.count
            assert sorted(window.sketch._ordered()) == sorted(fresh._ordered())
            series.refresh(window)
            assert (window.low, window.high) == (
                min(inside, default=math.inf),
                max(inside, default=-math.inf),
            )
            assert _signed(inside) == _signed(_kept_values(stats, series, window))


def _signed(values: list[float]) -> list[tuple[float, float]]:
    """Sort values telling 0.0 from -0.0, which compare equal."""
    return sorted((value, math.copysign(1.0, value)) for value in values)


def _kept_values(stats: RollingStats, series: object, window: object) -> list[float]:
    """The values the points say are in `window` of `series`, signs of zero included."""
    first, last = window.first, window.last  # type: ignore[attr-defined]
    wanted = (
        None if series is stats.all else next(t for t, s in stats.by_type.items() if s is series)
    )
    return [
        value
        for second, value, type in stats.points.values()
        if first <= second <= last and wanted in (None, type)
    ]


MAX = sys.float_info.max


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.floats(allow_nan=False, allow_infinity=False) | st.sampled_from([MAX, -MAX, 1e308]),
        min_size=1,
        max_size=20,
    )
)
# A variance below the smallest float: its root (2e-179) is still one.
@example(values=[0.0, 4.016183860496669e-179])
def test_moments_of_any_floats_never_overflow(values: list[float]) -> None:
    stats = stats_at()
    for i, value in enumerate(values):
        stats.upsert(str(i), NOW - i * US, value, "t")
    got = stats.summary(300)
    exact = [Fraction(v) for v in values]
    total = sum(exact)
    mean = total / len(exact)
    variance = sum((x - mean) ** 2 for x in exact) / len(exact)
    assert got["mean"] == float(mean)
    # Rounded to the nearest float, a sum a little past the largest one is still that one.
    if abs(total) < 2**1024 - 2**970:
        assert got["sum"] == float(total) and "null_reasons" not in got
    else:
        assert got["sum"] is None and got["null_reasons"]["sum"]
    # sqrt(v) = sqrt(v / 4**k) * 2**k, with k chosen so that v / 4**k is a normal float
    # (neither overflowing nor underflowing on the way).
    k = 600 if variance >= 2**1000 else -600 if 0 < variance < 2**-1000 else 0
    truth = math.sqrt(float(variance / Fraction(4) ** k)) * 2.0**k
    assert got["stddev"] == pytest.approx(truth, rel=1e-12, abs=1e-300)


def test_sketch_percentiles_of_the_largest_floats_stay_numbers() -> None:
    stats = stats_at()
    for i in range(1500):
        stats.upsert(str(i), NOW - i * 10_000, MAX if i % 3 else -MAX, "t")
    hour = stats.summary(3600)
    assert hour["percentiles"]["method"] == "ddsketch"
    assert (hour["p50"], hour["p99"], hour["stddev"]) == (
        MAX,
        MAX,
        pytest.approx(MAX * (2 * (2 / 9) ** 0.5)),
    )
    assert hour["min"] == -MAX and hour["sum"] is None  # 500 times the largest float
