"""Metrics: `GET /metrics` in Prometheus text format, from a registry of the app's own.

Requests are counted and timed by a middleware as they are answered; everything else is read
when scraped, from the parts that know it (the store worker, the hub, the app's counters).
"""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from eventd.keys import CONFIG
from eventd.metrics import routes
from eventd.metrics.collector import DaemonCollector
from eventd.metrics.keys import REGISTRY
from eventd.metrics.requests import RequestMetrics, middleware


def setup(app: web.Application) -> None:
    """Add `/metrics` and the request-counting middleware, unless `metrics.enabled` is off."""
    if not app[CONFIG].metrics.enabled:
        return
    # The app's own registry, not the library's global one: several apps in one process (the
    # tests) each count their own.
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    registry.register(DaemonCollector(app))
    # Outermost, so that it sees the answer every other middleware settled on.
    requests = RequestMetrics(registry)
    app.middlewares.insert(0, middleware(requests))
    app.on_response_prepare.append(requests.on_prepare)
    app[REGISTRY] = registry
    app.router.add_get("/metrics", routes.metrics)
