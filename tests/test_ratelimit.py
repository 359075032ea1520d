"""The buckets: rates parsed, the pace of a burst then a rate, bounded tables, live changes."""

from __future__ import annotations

import pytest

from eventd.config import ConfigError
from eventd.config.rates import Rate, parse_rate
from eventd.ratelimit import Buckets, Pace, RateLimits, retry_seconds
from tests.conftest import make_config

S = 1_000_000.0


def pace(count: int, seconds: int, burst: int) -> Pace:
    made = Pace.of(Rate(count, seconds), burst)
    assert made is not None
    return made


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("100/s", Rate(100, 1)),
        ("1/5s", Rate(1, 5)),
        ("600/m", Rate(600, 60)),
        (" 10 / 1h30m ", Rate(10, 5400)),
        ("3/d", Rate(3, 86400)),
        ("", None),
    ],
)
def test_rates_are_parsed(text: str, rate: Rate | None) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("fast", "not a rate: 'fast'"),
        ("100", "not a rate"),
        ("/s", "not a rate"),
        ("0/s", "must be 1 to"),
        ("-1/s", "not a rate"),
        ("²/s", "not a rate"),
        ("9" * 5000 + "/s", "not a rate"),
        ("1/5ms", "the period of '1/5ms'"),
        ("1/0s", "the period of '1/0s'"),
        ("1/", "the period of '1/'"),
    ],
)
def test_a_bad_rate_is_a_config_error_naming_it(text: str, says: str) -> None:
    for key in ("rate", "ws_rate"):
        with pytest.raises(ConfigError) as caught:
            make_config(limits={key: text})
        assert str(caught.value).startswith(f"limits.{key}: ")
        assert says in str(caught.value)


def test_the_older_trackers_pace_a_burst_of_ten_then_one_every_five_seconds() -> None:
    buckets = Buckets(pace(1, 5, 10), size=10)
    now = 1000 * S
    assert [buckets.take("a", now) for _ in range(10)] == [0.0] * 10
    assert buckets.take("a", now) == 5 * S
    assert buckets.take("a", now + 2 * S) == 3 * S
    assert buckets.take("a", now + 5 * S) == 0.0
    assert buckets.take("a", now + 5 * S) == 5 * S
    # Idle long enough to fill up again: a full burst, and no more.
    later = now + 60 * S
    assert [buckets.take("a", later) for _ in range(11)] == [0.0] * 10 + [5 * S]


def test_a_zero_burst_is_the_rates_count() -> None:
    pace = Pace.of(Rate(3, 1), 0)
    assert pace is not None and pace.tolerance_us == 1 * S


@pytest.mark.parametrize(
    ("wait", "seconds"), [(1.0, 1), (S, 1), (S + 1, 2), (5 * S, 5), (5 * S + 0.4, 5), (0.3, 1)]
)
def test_retry_after_is_whole_seconds_rounded_up(wait: float, seconds: int) -> None:
    assert retry_seconds(wait) == seconds


def test_the_table_never_holds_more_than_its_size() -> None:
    buckets = Buckets(pace(1, 60, 1), size=100)
    for n in range(10_000):
        buckets.take(f"address:{n}", 0.0)
        assert len(buckets) <= 100
    # The most recent clients kept their buckets: a second request is refused.
    assert buckets.take("address:9999", 0.0) > 0


def test_idle_full_buckets_are_dropped() -> None:
    buckets = Buckets(pace(1, 1, 5), size=10_000)
    for n in range(1000):
        buckets.take(f"address:{n}", 0.0)
    assert len(buckets) == 1000
    for step in range(100):  # new once (two full buckets go), then found: no more sweeps
        buckets.take("token:busy", 10 * S + step * 2 * S)
    assert len(buckets) == 999
    # Each new client drops up to two full buckets, least recently used first: full ones
    # hold nothing worth keeping.
    for n in range(1000):
        buckets.take(f"address:new-{n}", 1000 * S + n * 2 * S)
    assert len(buckets) <= 2


def test_a_table_at_its_size_drops_the_least_recently_used() -> None:
    buckets = Buckets(pace(1, 60, 1), size=2)
    buckets.take("old", 0.0)
    buckets.take("kept", 0.0)
    buckets.take("kept", 0.0)  # refused, and used again
    buckets.take("new", 0.0)
    assert buckets.take("kept", 0.0) > 0
    assert buckets.take("old", 0.0) == 0.0  # forgotten: a fresh bucket


def test_limits_are_off_by_default() -> None:
    limits = RateLimits(make_config())
    assert limits.http is None and limits.ws_pace is None and not limits.installed
    assert limits.message_bucket().take(0) == 0.0


def test_configure_changes_the_rates_and_says_what_needs_a_restart() -> None:
    off = RateLimits(make_config())
    assert off.configure(make_config(limits={"rate": "1/s"})) == ["limits.rate"]
    on = RateLimits(make_config(limits={"rate": "1/s", "burst": 1}))
    assert on.installed and on.http is not None
    buckets = on.http
    assert buckets.take("a", 0.0) == 0.0
    assert on.configure(make_config(limits={"rate": "1/10s", "burst": 1, "ws_rate": "5/s"})) == []
    assert on.http is buckets  # the state stays: a reload frees no client
    # Full again at 1 s at the old rate; one more token at the new one is 1 s away.
    assert buckets.take("a", 0.0) == 1 * S
    assert on.ws_pace == Pace(S / 5, S)
    assert on.configure(make_config()) == []
    assert on.http is None
