"""The search for the highest posting rate that fan-out delivers in full (bench/fanout.py).

The probe here is a model of a run, not a run: delivery that tops out at `capacity` events/s
and a poster that tops out at `poster`. The real runs are exercised by tests/test_bench.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from bench.fanout import highest_sustained


def model(
    capacity: float, poster: float = math.inf
) -> tuple[list[float], Callable[[float], dict[str, float]]]:
    tried: list[float] = []

    def probe(rate: float) -> dict[str, float]:
        tried.append(rate)
        return {"posted_per_s": min(rate, poster), "events_per_s": min(rate, capacity, poster)}

    return tried, probe


def test_doubles_until_delivery_falls_behind_then_bisects() -> None:
    tried, probe = model(capacity=300)
    found = highest_sustained(probe, 100)
    assert tried == [100, 200, 400, 300, 350]
    assert (found.rate, found.lost, found.bound) == (300, 350, "delivery")
    assert found.probes == [
        (100, "kept"),
        (200, "kept"),
        (400, "delivery"),
        (300, "kept"),
        (350, "delivery"),
    ]


def test_halves_when_the_first_rate_already_falls_behind() -> None:
    tried, probe = model(capacity=60)
    found = highest_sustained(probe, 100)
    assert tried == [100, 50, 75, 62.5]
    assert (found.rate, found.lost, found.bound) == (62.5, 75, "delivery")


def test_the_known_first_run_is_not_run_again() -> None:
    tried, probe = model(capacity=150)
    known = {"posted_per_s": 100.0, "events_per_s": 100.0}
    found = highest_sustained(probe, 100, known, steps=0)
    assert tried == [200]
    assert (found.rate, found.lost) == (100, 200)


def test_posts_that_cannot_go_at_the_rate_are_told_from_late_delivery() -> None:
    # Delivery keeps up with whatever is posted; the POSTs top out at 1,000 events/s.
    tried, probe = model(capacity=math.inf, poster=1000)
    found = highest_sustained(probe, 100, steps=1)
    assert tried == [100, 200, 400, 800, 1600, 1200]
    assert (found.rate, found.lost, found.bound) == (800, 1200, "posting")


def test_the_lowest_rate_lost_names_the_bound() -> None:
    # Runs vary: here 800 is posted in full and delivered late, then 600 is not even posted.
    runs = {
        100: {"posted_per_s": 100.0, "events_per_s": 100.0},
        200: {"posted_per_s": 200.0, "events_per_s": 200.0},
        400: {"posted_per_s": 400.0, "events_per_s": 400.0},
        800: {"posted_per_s": 800.0, "events_per_s": 500.0},
        600: {"posted_per_s": 500.0, "events_per_s": 500.0},
    }
    found = highest_sustained(lambda rate: runs[int(rate)], 100, steps=1)
    assert found.probes[-2:] == [(800, "delivery"), (600, "posting")]
    assert (found.rate, found.lost, found.bound) == (400, 600, "posting")


def test_stops_at_the_cap_when_every_rate_is_sustained() -> None:
    tried, probe = model(capacity=math.inf)
    found = highest_sustained(probe, 100, cap=400)
    assert tried == [100, 200, 400]
    assert (found.rate, found.lost, found.bound) == (400, None, "")


def test_stops_at_the_floor_when_no_rate_is_sustained() -> None:
    tried, probe = model(capacity=0.5)
    found = highest_sustained(probe, 4, floor=1)
    assert tried == [4, 2, 1]
    assert (found.rate, found.lost, found.bound) == (0.0, 1, "delivery")
