"""Timestamps: parse client input to microseconds since the epoch (UTC), format them back."""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

US = 1_000_000
HOUR = 3600  # seconds
_EPOCH = datetime(1970, 1, 1)
_EPOCH_AWARE = datetime(1970, 1, 1, tzinfo=UTC)
MIN_US = (datetime(1, 1, 1) - _EPOCH) // timedelta(microseconds=1)
MAX_US = (datetime(9999, 12, 31, 23, 59, 59, 999999) - _EPOCH) // timedelta(microseconds=1)
EPOCH_BOUND = 10**15  # epoch seconds; years 1-9999 lie within ±2.6e11

# RFC 3339 plus the forms people type: a space for `T`, a date alone, no seconds.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}"
    r"(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?"
    r"(?:[Zz]|[+-]\d{2}:?\d{2})?"
)
_DURATION = re.compile(r"(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?")
MAX_DURATION = 366 * 86400
# More digits than this cannot be a duration of at most a year, whatever the unit; int() of
# more than 4,300 digits would raise.
_DURATION_DIGITS = len(str(MAX_DURATION))


class TimeError(ValueError):
    """A value that is not a valid timestamp or duration; the message says why."""


def resolve_timezone(name: str) -> tzinfo | None:
    """Return the zone for `name`; None stands for the machine's local zone ("local")."""
    if name == "local":
        return None
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise TimeError(f"unknown time zone {name!r}") from exc


def parse_timestamp(value: object, naive_tz: tzinfo | None) -> int:
    """Parse an RFC 3339 string or epoch seconds into microseconds since the epoch."""
    if isinstance(value, bool):
        raise TimeError("expected an RFC 3339 string or epoch seconds, got a boolean")
    if isinstance(value, (int, float)):  # a tuple: faster than a union here
        return _from_epoch_seconds(value)
    if isinstance(value, str):
        return _from_string(value, naive_tz)
    raise TimeError("expected an RFC 3339 string or epoch seconds")


def _from_epoch_seconds(seconds: float) -> int:
    if not math.isfinite(seconds):
        raise TimeError("epoch seconds must be finite")
    # Beyond years 1-9999 by far, and near a float's limit, where `seconds * US` overflows.
    if not -EPOCH_BOUND <= seconds <= EPOCH_BOUND:
        raise TimeError("out of range: years 1 to 9999 are supported")
    us = round(seconds * US) if isinstance(seconds, float) else seconds * US
    if not MIN_US <= us <= MAX_US:
        raise TimeError("out of range: years 1 to 9999 are supported")
    return us


def _from_string(text: str, naive_tz: tzinfo | None) -> int:
    if len(text) > 40 or not _RFC3339.fullmatch(text):
        raise TimeError(f"not an RFC 3339 timestamp: {text[:40]!r}")
    try:
        # fromisoformat keeps microseconds and drops further digits (truncation).
        parsed = datetime.fromisoformat(text.upper())
    except ValueError as exc:
        raise TimeError(f"not a valid date or time: {text!r}") from exc
    if parsed.tzinfo is None:
        try:
            parsed = _localise(parsed, naive_tz)
        except (OverflowError, ValueError, OSError) as exc:
            raise TimeError("out of range: years 1 to 9999 are supported") from exc
    delta = parsed - _EPOCH_AWARE
    us = delta // timedelta(microseconds=1)
    if not MIN_US <= us <= MAX_US:
        raise TimeError("out of range: years 1 to 9999 are supported")
    return us


def _localise(naive: datetime, naive_tz: tzinfo | None) -> datetime:
    if naive_tz is not None:
        return naive.replace(tzinfo=naive_tz)
    # astimezone() on a naive datetime reads it in the machine's local zone, DST included.
    return naive.astimezone()


_HOUR_MINUTE = [f"{h:02d}:{m:02d}" for h in range(24) for m in range(60)]
_SECOND = [f"{s:02d}" for s in range(60)]


def format_us(us: int) -> str:
    """Format microseconds since the epoch as `YYYY-MM-DDTHH:MM:SS.ffffffZ`."""
    # Table lookups on a cached date: a third of the cost of a datetime per timestamp, which
    # every event answered and every change pushed needs twice.
    days, micros = divmod(us, 86_400_000_000)
    minutes, micros = divmod(micros, 60_000_000)
    second, micros = divmod(micros, 1_000_000)
    return f"{_format_day(days)}T{_HOUR_MINUTE[minutes]}:{_SECOND[second]}.{micros:06d}Z"


@functools.lru_cache(maxsize=1024)
def _format_day(days: int) -> str:
    return (_EPOCH + timedelta(days=days)).date().isoformat()


def parse_duration(value: object) -> int:
    """Parse `90`, `"90s"`, `"5m"`, `"1h30m"` or `"2d"` into whole seconds (> 0)."""
    if isinstance(value, bool):
        raise TimeError("expected a duration such as '5m' or a number of seconds")
    if isinstance(value, int):
        seconds = value
    elif isinstance(value, str) and value and (match := _DURATION.fullmatch(value)):
        seconds = _duration_seconds(match.groups())
    else:
        raise TimeError(f"not a duration: {repr(value)[:40]} (use e.g. '30s', '5m', '1h', '2d')")
    if seconds <= 0:
        raise TimeError("a duration must be positive")
    if seconds > MAX_DURATION:
        raise TimeError("a duration may be at most 366 days")
    return seconds


def _duration_seconds(parts: tuple[str | None, ...]) -> int:
    if any(len(part.lstrip("0")) > _DURATION_DIGITS for part in parts if part):
        return MAX_DURATION + 1
    d, h, m, s = (int(part or 0) for part in parts)
    return ((d * 24 + h) * 60 + m) * 60 + s


def format_duration(seconds: int) -> str:
    """Format whole seconds compactly: 300 -> '5m', 5400 -> '1h30m'."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def wall_clock_us() -> int:
    """Return the current time in microseconds since the epoch."""
    return time.time_ns() // 1000


Clock = Callable[[], int]
