"""Unit tests of eventd.times: timestamps and durations, parsed and formatted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventd.times import (
    MAX_US,
    MIN_US,
    TimeError,
    format_duration,
    format_us,
    parse_duration,
    parse_timestamp,
)

PARIS = ZoneInfo("Europe/Paris")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def us(*args: int) -> int:
    """Microseconds since the epoch of the given UTC date and time fields."""
    return (datetime(*args, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)


JAN1 = us(2025, 1, 1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-01T00:00:00Z", JAN1),
        ("2025-01-01t00:00:00z", JAN1),
        ("2025-01-01 00:00:00Z", JAN1),
        ("2025-01-01T00:00Z", JAN1),
        ("2025-01-01T01:00:00+01:00", JAN1),
        ("2025-01-01T00:00:00+01:00", JAN1 - 3600 * 10**6),
        ("2025-01-01T00:00:00-0530", JAN1 + (5 * 3600 + 30 * 60) * 10**6),
        ("2024-12-31T18:30:00-05:30", JAN1),
        ("2025-01-01T00:00:00.5Z", JAN1 + 500_000),
        ("2025-01-01T00:00:00.000001Z", JAN1 + 1),
        ("2025-01-01T00:00:00.123456Z", JAN1 + 123_456),
        # Digits beyond microseconds are truncated, never rounded up.
        ("2025-01-01T00:00:00.123456789Z", JAN1 + 123_456),
        ("2025-01-01T00:00:00.999999999Z", JAN1 + 999_999),
        ("1970-01-01T00:00:00Z", 0),
        ("1969-12-31T23:59:59.999999Z", -1),
        ("0001-01-01T00:00:00Z", MIN_US),
        ("9999-12-31T23:59:59.999999Z", MAX_US),
        ("2024-02-29T12:00:00Z", us(2024, 2, 29, 12)),
    ],
)
def test_parse_rfc3339_with_offset(text: str, expected: int) -> None:
    # An explicit offset wins over the zone for naive input.
    assert parse_timestamp(text, UTC) == expected
    assert parse_timestamp(text, PARIS) == expected


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [
        ("2025-01-01", UTC, JAN1),
        ("2025-01-01T12:00:00", UTC, us(2025, 1, 1, 12)),
        ("2025-01-01 12:00", UTC, us(2025, 1, 1, 12)),
        # Paris is UTC+1 in winter, UTC+2 in summer.
        ("2025-01-01", PARIS, JAN1 - 3600 * 10**6),
        ("2025-01-15T12:00:00", PARIS, us(2025, 1, 15, 11)),
        ("2025-07-15T12:00:00", PARIS, us(2025, 7, 15, 10)),
        ("2025-07-15T12:00:00.25", PARIS, us(2025, 7, 15, 10) + 250_000),
        ("0001-01-01T00:00:00", UTC, MIN_US),
        ("9999-12-31T23:59:59.999999", UTC, MAX_US),
    ],
)
def test_parse_naive_in_zone(text: str, tz: ZoneInfo, expected: int) -> None:
    assert parse_timestamp(text, tz) == expected


@pytest.mark.parametrize(
    ("seconds", "expected"),
    [
        (0, 0),
        (1, 1_000_000),
        (-1, -1_000_000),
        (1_735_689_600, JAN1),
        (1.5, 1_500_000),
        (-1.5, -1_500_000),
        (0.000001, 1),
        # Floats are rounded to the nearest microsecond.
        (1.2345674, 1_234_567),
        (1.2345676, 1_234_568),
        (1_735_689_600.25, JAN1 + 250_000),
        (253_402_300_799, us(9999, 12, 31, 23, 59, 59)),
        (-62_135_596_800, MIN_US),
    ],
)
def test_parse_epoch_seconds(seconds: float, expected: int) -> None:
    result = parse_timestamp(seconds, UTC)
    assert result == expected
    assert type(result) is int


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        float("nan"),
        float("inf"),
        float("-inf"),
        None,
        [2025],
        b"2025-01-01",
        "",
        "now",
        "garbage",
        "2025",
        "2025-1-1",
        "2025-01-01T",
        "2025-01-01T25:00:00Z",
        "2025-01-01T12:60:00Z",
        "2025-01-01T12:00:00+25:00",
        "2025-01-01T12:00:00.Z",
        "2025-01-01T12:00:00.1234567890Z",
        "2025-01-01T12:00:00 Z",
        " 2025-01-01",
        "2025-01-01\n",
        "2025-02-30",
        "2025-02-29T00:00:00Z",
        "2025-13-01",
        "2025-00-10",
        "0000-01-01",
        "0000-12-31T23:59:59Z",
        "10000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
        "2025-01-01T00:00:00Z" + "0" * 40,
        253_402_300_800,
        -62_135_596_801,
        1e300,
        -1e300,
        1e303,  # a microsecond count beyond a float's range
        -1.7976931348623157e308,
        10**30,
    ],
)
def test_parse_rejects(value: object) -> None:
    with pytest.raises(TimeError):
        parse_timestamp(value, UTC)


def test_parse_naive_out_of_range_after_zone_shift() -> None:
    # Valid in UTC, but one hour before year 1 once read in Paris.
    assert parse_timestamp("0001-01-01T00:00:00", UTC) == MIN_US
    with pytest.raises(TimeError, match="out of range"):
        parse_timestamp("0001-01-01T00:00:00", PARIS)


def test_time_error_is_value_error() -> None:
    with pytest.raises(ValueError, match="boolean"):
        parse_timestamp(True, UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "1970-01-01T00:00:00.000000Z"),
        (1, "1970-01-01T00:00:00.000001Z"),
        (-1, "1969-12-31T23:59:59.999999Z"),
        (-1_500_000, "1969-12-31T23:59:58.500000Z"),
        (JAN1, "2025-01-01T00:00:00.000000Z"),
        (JAN1 + 123_456, "2025-01-01T00:00:00.123456Z"),
        (MIN_US, "0001-01-01T00:00:00.000000Z"),
        (MAX_US, "9999-12-31T23:59:59.999999Z"),
    ],
)
def test_format_us(value: int, expected: str) -> None:
    assert format_us(value) == expected


@given(st.integers(min_value=MIN_US, max_value=MAX_US))
def test_format_us_agrees_with_datetime(value: int) -> None:
    expected = datetime(1970, 1, 1) + timedelta(microseconds=value)
    assert format_us(value) == expected.isoformat(timespec="microseconds") + "Z"


@pytest.mark.parametrize(
    "value",
    [0, 1, -1, 999_999, JAN1, JAN1 + 1, JAN1 + 123_457, -123_456_789_012, MIN_US, MAX_US],
)
def test_format_parse_round_trip(value: int) -> None:
    text = format_us(value)
    assert parse_timestamp(text, UTC) == value
    assert parse_timestamp(text, PARIS) == value


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90),
        (1, 1),
        ("30s", 30),
        ("90s", 90),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("2d", 172_800),
        ("1d2h3m4s", 93_784),
        ("366d", 366 * 86400),
        (366 * 86400, 366 * 86400),
    ],
)
def test_parse_duration(value: object, seconds: int) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    "value",
    [
        0,
        -5,
        "",
        "0s",
        "0d0h",
        "5x",
        "5",
        "m",
        "5 m",
        "5M",
        "30m1h",
        "-5m",
        "1.5h",
        True,
        False,
        None,
        1.5,
        90.0,
        366 * 86400 + 1,
        "367d",
        "366d1s",
    ],
)
def test_parse_duration_rejects(value: object) -> None:
    with pytest.raises(TimeError):
        parse_duration(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1, "1s"),
        (30, "30s"),
        (90, "1m30s"),
        (300, "5m"),
        (3600, "1h"),
        (5400, "1h30m"),
        (86400, "1d"),
        (172_800, "2d"),
        (93_784, "1d2h3m4s"),
    ],
)
def test_format_duration(seconds: int, text: str) -> None:
    assert format_duration(seconds) == text


@pytest.mark.parametrize("seconds", [1, 59, 61, 3599, 3601, 5400, 86399, 90061, 366 * 86400])
def test_duration_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds
