"""GET /health: is the daemon up, and on which engine."""

from __future__ import annotations

from aiohttp import web

from eventd import __version__
from eventd.http.responses import json_response
from eventd.keys import CLOCK, WORKER
from eventd.times import format_us


async def health(request: web.Request) -> web.Response:
    """Answer the daemon's status, time, engine and version."""
    worker = request.app[WORKER]
    return json_response(
        {
            "status": "ok",
            "server_time": format_us(request.app[CLOCK]()),
            "engine": worker.engine.name,
            "version": __version__,
            "backlog": worker.backlog,
        }
    )
