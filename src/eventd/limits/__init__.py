"""Rate limits: a token bucket per token, or per client address for requests without one.

Requests over the limit get 429 with `Retry-After`; the WebSocket handler paces each socket's
messages with a bucket from the same `RATE_LIMITS` object. Off by default.
"""

from __future__ import annotations

from aiohttp import web

from eventd.keys import CONFIG
from eventd.limits.middleware import middleware
from eventd.ratelimit import RATE_LIMITS, RateLimits

__all__ = ["setup"]

AFTER_ORIGIN = 2


def setup(app: web.Application) -> None:
    """Publish the limits, and install the HTTP middleware only if a rate is set."""
    limits = app[RATE_LIMITS] = RateLimits(app[CONFIG])
    if limits.installed:
        # After `errors` and the origin check of app.py's list, so that a 429 is JSON with CORS
        # headers and preflights spend no token; before the credentials check, so that
        # requests with bad tokens are limited too; inside the metrics counter (installed
        # later, outermost), so that every 429 is counted.
        app.middlewares.insert(AFTER_ORIGIN, middleware(limits))
