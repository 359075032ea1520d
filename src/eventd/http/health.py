"""GET /health: the daemon's status and checks, its feed position, subscribers and loop lag."""

from __future__ import annotations

import asyncio

from aiohttp import web

from eventd import __version__
from eventd.http.middlewares import retry_after_header
from eventd.http.params import single_values
from eventd.http.responses import json_response
from eventd.keys import CLOCK, CONFIG, HUB, LOOP_LAG, SOCKETS, WORKER
from eventd.store.base import StorageError
from eventd.times import format_us
from eventd.ws.channels import channels


async def health(request: web.Request) -> web.Response:
    """Answer the daemon's status, time, engine, version, feed position, subscribers and
    loop lag; 503 when a part fails."""
    single_values(request, set())
    app = request.app
    worker = app[WORKER]
    errors: dict[str, str] = {}
    try:
        # A round trip bounded by the engine's timeout: operators want to know the store
        # answers, not only that the process runs.
        await worker.ping()
    except StorageError as exc:
        errors["store"] = str(exc)
    if (feed_error := _feed_error(app)) is not None:
        errors["feed"] = feed_error
    body: dict[str, object] = {
        "status": "unavailable" if errors else "ok",
        "server_time": format_us(app[CLOCK]()),
        "engine": worker.engine.name,
        "version": __version__,
        "backlog": worker.backlog,
        "feed": {"position": app[HUB].position, "epoch": app[HUB].epoch},
        "subscribers": _subscribers(app),
        "loop_lag_ms": _loop_lag(app),
        "checks": {part: "unavailable" if part in errors else "ok" for part in ("store", "feed")},
    }
    if not errors:
        return json_response(body)
    body["errors"] = errors
    headers = retry_after_header(app[CONFIG].store.retry_after)
    return json_response(body, status=503, headers=headers)


def _feed_error(app: web.Application) -> str | None:
    """Return why the hub cannot read the feed, once its reads have failed for longer than
    the engine's timeout: one read cut by a timeout (a large import) is not an outage."""
    hub = app[HUB]
    if hub.error is None or hub.failing_since is None:
        return None
    failing = asyncio.get_running_loop().time() - hub.failing_since
    return hub.error if failing > (hub.engine.timeout or 0.0) else None


def _subscribers(app: web.Application) -> dict[str, object]:
    """Return the WebSocket connections, their subscriptions, and those on each channel."""
    registry = channels(app)
    return {
        "connections": len(app[SOCKETS]),
        "subscriptions": registry.subscriptions,
        "channels": registry.held(),
    }


def _loop_lag(app: web.Application) -> dict[str, float]:
    """Return how late the event loop ran its timer last, and at most in the last minute."""
    lag = app[LOOP_LAG]
    return {"last": round(lag.figures.last * 1000, 1), "max_1m": round(lag.max_1m() * 1000, 1)}
