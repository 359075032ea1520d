"""The HTTP side of the rate limits: 429 with `Retry-After` once a bucket is empty."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from eventd.access import GATE, credentials
from eventd.http.responses import error_response
from eventd.keys import CLOCK
from eventd.ratelimit import RateLimits, retry_seconds

# Routes never limited: the health probe and the dashboard's page and files cost little and
# must answer during a flood; so must /metrics (behind its own scope), which shows the flood.
EXEMPT = frozenset({"/health", "/", "/dashboard/{asset}", "/metrics"})


def client_key(request: web.Request) -> str:
    """Return the bucket's key: the token's name, else the peer's address."""
    if GATE in request.app:
        grant = credentials(request)
        if grant is not None and grant.name is not None:
            return "token:" + grant.name
    # The peer itself: X-Forwarded-For is anyone's to write, so it is never read.
    return "address:" + (request.remote or "")


def middleware(limits: RateLimits) -> Middleware:
    """Return the middleware that takes a token from the request's bucket, or answers 429."""

    @web.middleware
    async def rate_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        buckets = limits.http
        resource = request.match_info.route.resource
        if buckets is None or (resource is not None and resource.canonical in EXEMPT):
            return await handler(request)
        wait = buckets.take(client_key(request), request.app[CLOCK]())
        if not wait:
            return await handler(request)
        seconds = retry_seconds(wait)
        return error_response(
            429,
            "rate_limited",
            f"Too many requests, retry in {seconds}s",
            headers={"Retry-After": str(seconds)},
        )

    return rate_limit
