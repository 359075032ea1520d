"""Token buckets: one per token or client address for HTTP requests, one per WebSocket for
its messages. The `limits` feature fills them and publishes them under `RATE_LIMITS`; the
WebSocket handler takes a bucket for each socket from there.

Each bucket is kept as one number, in the manner of GCRA: the time at which it will be full
again. A bucket full now holds no information, so it is dropped.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web

from eventd.config import Config
from eventd.config.rates import Rate, parse_rate

US = 1_000_000
# Oldest buckets looked at for each new key, to drop the full ones: more than one, so that
# the table shrinks while clients come and go.
SWEEP = 2


@dataclass(frozen=True, slots=True)
class Pace:
    """A rate and the burst allowed before it applies, in microseconds."""

    interval_us: float
    tolerance_us: float  # how far ahead of now a bucket's full time may be

    @classmethod
    def of(cls, rate: Rate | None, burst: int) -> Pace | None:
        """Return the pace of `rate` with `burst` (0: the rate's count); None for no limit."""
        if rate is None:
            return None
        return cls(rate.interval_us, rate.interval_us * (burst or rate.count))

    def take(self, full_at: float, now: float) -> tuple[float, float]:
        """Return (the new full time, microseconds to wait: 0 if one request may pass)."""
        after = max(full_at, now) + self.interval_us
        over = after - now - self.tolerance_us
        return (full_at, over) if over > 0 else (after, 0.0)


def retry_seconds(wait_us: float) -> int:
    """Return the whole seconds to wait, rounded up, at least one."""
    return max(1, math.ceil(round(wait_us) / US))


class Buckets:
    """A bounded table of buckets by key, least recently used first."""

    def __init__(self, pace: Pace, size: int) -> None:
        self.pace = pace
        self.size = size
        self._full_at: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._full_at)

    def take(self, key: str, now: float) -> float:
        """Take one token from `key`'s bucket; return microseconds to wait (0: it passes)."""
        table = self._full_at
        # Popped and put back: the table stays in order of use, least recent first.
        full_at = table.pop(key, None)
        if full_at is None:
            self._sweep(now)  # only a new key grows the table
            full_at = now
        after = (full_at if full_at > now else now) + self.pace.interval_us
        over = after - now - self.pace.tolerance_us
        if over > 0:
            table[key] = full_at
            return over
        table[key] = after
        return 0.0

    def _sweep(self, now: float) -> None:
        """Drop the oldest full buckets, then the least recently used beyond the size."""
        table = self._full_at
        for _ in range(SWEEP):
            oldest = next(iter(table), None)
            if oldest is None or table[oldest] > now:
                break
            del table[oldest]
        while len(table) >= self.size:
            table.popitem(last=False)


class MessageBucket:
    """One WebSocket's bucket, and the refusals in a row that close the socket."""

    def __init__(self, limits: RateLimits) -> None:
        self._limits = limits
        self._full_at = 0.0
        self.strikes = 0

    def take(self, now: float) -> float:
        """Take one token for a message; return microseconds to wait (0: it passes)."""
        pace = self._limits.ws_pace
        if pace is None:
            return 0.0
        self._full_at, wait = pace.take(self._full_at, now)
        self.strikes = self.strikes + 1 if wait else 0
        return wait

    @property
    def exhausted(self) -> bool:
        """Tell whether the socket was refused `limits.ws_strikes` messages in a row."""
        return self.strikes >= self._limits.ws_strikes


class RateLimits:
    """The HTTP buckets and the WebSocket pace of one app; `configure` changes them live."""

    def __init__(self, config: Config) -> None:
        self.http: Buckets | None = None
        self.ws_pace: Pace | None = None
        self.ws_strikes = 1
        self.installed = False
        self.configure(config)
        # The HTTP middleware is installed only for a limit set at start: none costs nothing.
        self.installed = self.http is not None

    def configure(self, config: Config) -> list[str]:
        """Apply the `limits` settings of `config`; return those that need a restart.

        Buckets keep their state across a change of rate: a reload frees no client.
        """
        limits = config.limits
        pace = Pace.of(parse_rate(limits.rate), limits.burst)
        if pace is None:
            self.http = None
        elif self.http is None:
            self.http = Buckets(pace, limits.rate_clients)
        else:
            self.http.pace, self.http.size = pace, limits.rate_clients
        self.ws_pace = Pace.of(parse_rate(limits.ws_rate), limits.ws_burst)
        self.ws_strikes = limits.ws_strikes
        return ["limits.rate"] if pace is not None and not self.installed else []

    def message_bucket(self) -> MessageBucket:
        """Return a bucket for one WebSocket's messages."""
        return MessageBucket(self)


RATE_LIMITS = web.AppKey("rate_limits", RateLimits)
