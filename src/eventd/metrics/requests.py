"""Requests counted and timed by route, method and status, as they are answered.

The route label is the route's canonical path (`/events/{id}`), never the URL asked for, and
a method outside the HTTP ones counts as `other`: no client can make new series by choosing
paths or methods. The counts are plain numbers, found once per combination and kept, and
turned into metric families only when scraped (as the app's other counts are): a request
costs a dictionary lookup, a bisection and three additions, where prometheus_client's own
counter and histogram take a lock for every addition and scan the buckets one by one.
Everything runs on the event loop, the scrape included, so no addition needs a lock.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

UNMATCHED = "unmatched"  # the route label of a request no route serves (404, 405)
OTHER = "other"  # the method label of a method outside METHODS
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds; from a read served from memory to a slow import.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
TOO_MANY_REQUESTS = 429
SWITCHING_PROTOCOLS = 101
REQUESTS = "eventd_http_requests"
DURATION = "eventd_http_request_duration_seconds"
RATE_LIMITED = "eventd_http_rate_limited"


@dataclass(slots=True)
class Count:
    """One counter series: its value, and when it began (its `_created` sample)."""

    created: float = field(default_factory=time.time)
    value: int = 0


@dataclass(slots=True)
class Timing:
    """One histogram series: how many durations fell in each bucket (the last: above every
    bound), their sum, and when it began."""

    created: float = field(default_factory=time.time)
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0

    def observe(self, seconds: float) -> None:
        """Add one duration."""
        # The first bound at or above `seconds`: buckets count durations <= their bound.
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        """Return the buckets as Prometheus has them: cumulative, with +Inf last."""
        buckets, running = [], 0
        for bound, count in zip(BUCKETS, self.counts, strict=False):
            running += count
            buckets.append((str(float(bound)), float(running)))
        buckets.append(("+Inf", float(running + self.counts[-1])))
        return buckets


@dataclass(slots=True)
class Series:
    """What one answer of a route, method and status adds to: its count, its route and
    method's timing (None for a WebSocket), its route's 429 count (None unless a 429)."""

    count: Count
    timing: Timing | None
    limited: Count | None


class RequestMetrics(Collector):
    """The request counter, latency histogram and 429 counter of one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._counts: dict[tuple[str, str, str], Count] = {}
        self._timings: dict[tuple[str, str], Timing] = {}
        self._limited: dict[str, Count] = {}
        self._series: dict[tuple[str, str, int], Series] = {}
        registry.register(self)

    def record(self, request: web.Request, status: int, seconds: float) -> None:
        """Count one answered request."""
        resource = request.match_info.route.resource
        route = UNMATCHED if resource is None else resource.canonical
        method = request.method if request.method in METHODS else OTHER
        series = self._series.get((route, method, status))
        if series is None:
            series = self._series[route, method, status] = self._new_series(route, method, status)
        series.count.value += 1
        if series.timing is not None:
            series.timing.observe(seconds)
        if series.limited is not None:
            series.limited.value += 1

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """Count a WebSocket as it opens: its handler returns only when it closes, if at all
        (aiohttp may cancel it once the peer has gone)."""
        if response.status == SWITCHING_PROTOCOLS:
            self.record(request, SWITCHING_PROTOCOLS, 0.0)

    def _new_series(self, route: str, method: str, status: int) -> Series:
        count = self._counts.setdefault((route, method, str(status)), Count())
        timing = None
        if status != SWITCHING_PROTOCOLS:  # a WebSocket: its duration is the connection's
            timing = self._timings.setdefault((route, method), Timing())
        limited = None
        if status == TOO_MANY_REQUESTS:
            limited = self._limited.setdefault(route, Count())
        return Series(count, timing, limited)

    def describe(self) -> Iterator[Metric]:
        """Return the metric families without their series (for the registry's checks)."""
        return iter(_families())

    def collect(self) -> Iterator[Metric]:
        """Yield the three families with every series counted so far."""
        requests, duration, limited = _families()
        for labels, count in self._counts.items():
            requests.add_metric(labels, count.value, created=count.created)
        for (route, method), timing in self._timings.items():
            duration.add_metric([route, method], timing.cumulative(), timing.total)
            # prometheus_client's own histogram has this sample too; the family has no field.
            created = {"route": route, "method": method}
            duration.samples.append(Sample(f"{DURATION}_created", created, timing.created))
        for route, count in self._limited.items():
            limited.add_metric([route], count.value, created=count.created)
        return iter((requests, duration, limited))


def _families() -> tuple[CounterMetricFamily, HistogramMetricFamily, CounterMetricFamily]:
    """Return the request families, empty."""
    return (
        CounterMetricFamily(
            REQUESTS,
            "HTTP requests answered, by route, method and status.",
            labels=["route", "method", "status"],
        ),
        HistogramMetricFamily(
            DURATION,
            "Time from a request's start to its answer, by route and method "
            "(WebSocket connections are not timed).",
            labels=["route", "method"],
        ),
        CounterMetricFamily(
            RATE_LIMITED,
            "Requests answered 429 (too many requests), by route.",
            labels=["route"],
        ),
    )


def middleware(metrics: RequestMetrics) -> Middleware:
    """Return the middleware that counts and times every answered request."""

    @web.middleware
    async def count_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        try:
            response = await handler(request)
        except web.HTTPException as exc:  # what `errors` lets through: redirects
            metrics.record(request, exc.status, time.perf_counter() - start)
            raise
        except Exception:
            metrics.record(request, 500, time.perf_counter() - start)
            raise
        if response.status != SWITCHING_PROTOCOLS:  # counted as it opened (`on_prepare`)
            metrics.record(request, response.status, time.perf_counter() - start)
        return response

    return count_requests
