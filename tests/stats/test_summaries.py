"""A window's summary, an exact range's and a history point share one shape and one rule."""

from __future__ import annotations

from eventd.stats.summaries import empty, exact_summary
from eventd.stats.windows import RollingStats, history_point
from eventd.times import US
from tests.conftest import NOW

POINT = ("count", "sum", "min", "max", "mean")


def window_of(values: list[float]) -> RollingStats:
    stats = RollingStats((300,))
    stats.advance(NOW)
    for n, value in enumerate(values):
        stats.upsert(f"e{n}", NOW, value, "t")
    return stats


def test_no_values_give_the_empty_shapes() -> None:
    stats = window_of([])
    assert stats.summary(300) == exact_summary([]) == empty()
    assert history_point(stats.all, NOW // US, 300) == empty(spread=None)
    assert empty(spread=None) == {"count": 0, "sum": 0.0, "min": None, "max": None, "mean": None}


def test_a_window_an_exact_range_and_a_history_point_of_the_same_values_agree() -> None:
    # The first sum is exact in a float, so that a point's mean (that sum divided) is the
    # exact mean rounded, as a summary's is; the second adds up beyond a float.
    for values in ([1.0, -1.5, 0.0, 7.25, 2.0, 2.25], [1e308, 1e308, -3.0, 5.0]):
        stats = window_of(values)
        summary = stats.summary(300)
        assert summary == exact_summary(values)
        point = history_point(stats.all, NOW // US, 300)
        assert point == {name: summary[name] for name in POINT} | (
            {"null_reasons": summary["null_reasons"]} if "null_reasons" in summary else {}
        )
