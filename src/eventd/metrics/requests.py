"""Requests counted and timed by route, method and status, as they are answered.

The route label is the route's canonical path (`/events/{id}`), never the URL asked for, and
a method outside the HTTP ones counts as `other`: no client can make new series by choosing
paths or methods. The labelled children are looked up once per combination and kept, so a
request costs one counter and one histogram step.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram

UNMATCHED = "unmatched"  # the route label of a request no route serves (404, 405)
OTHER = "other"  # the method label of a method outside METHODS
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Seconds; from a read served from memory to a slow import.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
TOO_MANY_REQUESTS = 429
SWITCHING_PROTOCOLS = 101

Record = Callable[[float], None]


class RequestMetrics:
    """The request counter and latency histogram of one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "eventd_http_requests",
            "HTTP requests answered, by route, method and status.",
            ["route", "method", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "eventd_http_request_duration_seconds",
            "Time from a request's start to its answer, by route and method "
            "(WebSocket connections are not timed).",
            ["route", "method"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.rate_limited = Counter(
            "eventd_http_rate_limited",
            "Requests answered 429 (too many requests), by route.",
            ["route"],
            registry=registry,
        )
        self._records: dict[tuple[str, str, int], Record] = {}

    def record(self, request: web.Request, status: int, seconds: float) -> None:
        """Count one answered request."""
        resource = request.match_info.route.resource
        route = UNMATCHED if resource is None else resource.canonical
        method = request.method if request.method in METHODS else OTHER
        key = (route, method, status)
        record = self._records.get(key)
        if record is None:
            record = self._records[key] = self._recorder(*key)
        record(seconds)

    async def on_prepare(self, request: web.Request, response: web.StreamResponse) -> None:
        """Count a WebSocket as it opens: its handler returns only when it closes, if at all
        (aiohttp may cancel it once the peer has gone)."""
        if response.status == SWITCHING_PROTOCOLS:
            self.record(request, SWITCHING_PROTOCOLS, 0.0)

    def _recorder(self, route: str, method: str, status: int) -> Record:
        """Return what counts one request of this route, method and status."""
        count = self.requests.labels(route, method, str(status)).inc
        if status == SWITCHING_PROTOCOLS:  # a WebSocket: its duration is the connection's
            return lambda seconds: count()
        observe = self.duration.labels(route, method).observe
        if status == TOO_MANY_REQUESTS:
            limited = self.rate_limited.labels(route).inc

            def record_limited(seconds: float) -> None:
                count()
                observe(seconds)
                limited()

            return record_limited

        def record(seconds: float) -> None:
            count()
            observe(seconds)

        return record


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
