"""The shape of the statistics the API answers: a window's or a range's summary, a history point."""

from __future__ import annotations

from typing import Any, NamedTuple

from eventd.stats.sketch import BEYOND_FLOAT, moments, scaled_both

PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99))


class Spread(NamedTuple):
    """What a summary adds to a history point: the deviation, the percentiles, and how the
    percentiles were computed."""

    stddev: float | None
    percentiles: dict[str, float | None]
    method: str = "exact"
    relative_error: float = 0.0


NO_SPREAD = Spread(None, {name: None for name, _ in PERCENTILES})


def shape(
    count: int,
    total: float | None,
    mean: float | None,
    low: float | None,
    high: float | None,
    spread: Spread | None = None,
) -> dict[str, Any]:
    """Return statistics from their parts: a history point, or with `spread` a summary."""
    out: dict[str, Any] = {"count": count, "sum": total, "min": low, "max": high, "mean": mean}
    if spread is not None:
        out["stddev"] = spread.stddev
        out |= spread.percentiles
        out["percentiles"] = {"method": spread.method, "relative_error": spread.relative_error}
    return out | null_reasons(total)


def empty(spread: Spread | None = NO_SPREAD) -> dict[str, Any]:
    """Return the statistics of no values: a summary, or with `spread=None` a history point."""
    return shape(0, 0.0, None, None, None, spread)


def null_reasons(total: float | None) -> dict[str, Any]:
    """Return the `null_reasons` member of an answer whose sum is beyond a float, if it is."""
    return {} if total is not None else {"null_reasons": {"sum": BEYOND_FLOAT}}


def nearest_ranks(ordered: list[float]) -> dict[str, float | None]:
    """Return the percentiles of sorted `ordered` (not empty): the value whose rank is q*(n-1)
    rounded down, the same rank rule as the sketch's."""
    last = len(ordered) - 1
    return {name: ordered[int(q * last)] for name, q in PERCENTILES}


def exact_summary(values: list[float]) -> dict[str, Any]:
    """Return count, sum, min, max, mean, stddev and percentiles of `values`, all exact."""
    if not values:
        return empty()
    scaled = [scaled_both(v) for v in values]
    total = sum(value for value, _ in scaled)
    exact = moments(len(values), total, sum(square for _, square in scaled))
    ordered = sorted(values)
    spread = Spread(exact.stddev, nearest_ranks(ordered))
    return shape(len(values), exact.sum, exact.mean, ordered[0], ordered[-1], spread)
