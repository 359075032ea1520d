"""Rates of the rate limits: "100/s", "1/5s", "600/m", parsed into a count per period."""

from __future__ import annotations

from dataclasses import dataclass

from eventd.times import TimeError, parse_duration

MAX_RATE_COUNT = 10**9


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` requests every `period` seconds."""

    count: int
    period: int

    @property
    def interval_us(self) -> float:
        """Return the microseconds one request's token takes to come back."""
        return self.period * 1_000_000 / self.count


def parse_rate(text: str) -> Rate | None:
    """Parse "N/PERIOD" (PERIOD: a duration, or a bare unit s, m, h, d); '' is no limit."""
    text = text.strip()
    if not text:
        return None
    count, slash, period = (part.strip() for part in text.partition("/"))
    if not slash or not (count.isascii() and count.isdigit()) or len(count) > 10:
        raise ValueError(f"not a rate: {text[:40]!r} (use e.g. '100/s', '1/5s', '600/m')")
    if not 1 <= int(count) <= MAX_RATE_COUNT:  # len <= 10: int() is cheap
        raise ValueError(f"the count of {text[:40]!r} must be 1 to {MAX_RATE_COUNT}")
    try:
        seconds = parse_duration("1" + period if period.isalpha() else period)
    except TimeError as exc:
        raise ValueError(f"the period of {text[:40]!r}: {exc}") from None
    return Rate(int(count), seconds)
