"""Rate limits: a token bucket per token, or per client address for requests without one.

Requests over the limit get 429 with `Retry-After`; the WebSocket handler paces each socket's
messages with a bucket from the same `RATE_LIMITS` object. Off by default.
"""

from __future__ import annotations

import logging

from aiohttp import web

from eventd.config import Config
from eventd.keys import CONFIG
from eventd.limits.middleware import middleware
from eventd.ratelimit import RATE_LIMITS, RateLimits
from eventd.reloading import add_reloader

__all__ = ["setup"]

AFTER_ORIGIN = 2
# The settings a reload applies live (the others of `[limits]` need a restart).
LIVE = (
    "limits.rate",
    "limits.burst",
    "limits.ws_rate",
    "limits.ws_burst",
    "limits.ws_strikes",
    "limits.rate_clients",
)
log = logging.getLogger(__name__)


def setup(app: web.Application) -> None:
    """Publish the limits, and install the HTTP middleware only if a rate is set."""
    limits = app[RATE_LIMITS] = RateLimits(app[CONFIG])
    if limits.installed:
        # After `errors` and the origin check of app.py's list, so that a 429 is JSON with CORS
        # headers and preflights spend no token; before the credentials check, so that
        # requests with bad tokens are limited too; inside the metrics counter (installed
        # later, outermost), so that every 429 is counted.
        app.middlewares.insert(AFTER_ORIGIN, middleware(limits))

    def reload(config: Config) -> None:
        for key in limits.configure(config):
            log.warning("reload: %s changed; it takes effect at the next restart", key)

    add_reloader(app, LIVE, reload, name="rate limits")
