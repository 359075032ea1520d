"""The core's own routes: health, the OpenAPI document, the WebSocket endpoint."""

from __future__ import annotations

from aiohttp import web

from eventd.http import health, openapi
from eventd.ws.handler import websocket


def setup_routes(app: web.Application) -> None:
    """Register the routes that belong to no feature."""
    app.router.add_get("/health", health.health)
    app.router.add_get("/openapi.json", openapi.handler())
    app.router.add_get("/ws", websocket)
