"""The route table."""

from __future__ import annotations

from aiohttp import web

from eventd.http import events, health, legacy, openapi, stats
from eventd.http.timeouts import expect_body
from eventd.ws.handler import websocket


def setup_routes(app: web.Application) -> None:
    """Register every HTTP route on `app`."""
    for path in ("/events", "/events/"):
        app.router.add_post(path, events.create, expect_handler=expect_body)
        app.router.add_get(path, events.list_events)
        app.router.add_delete(path, events.clear)
    app.router.add_get("/events/{id}", events.get)
    app.router.add_put("/events/{id}", events.replace, expect_handler=expect_body)
    app.router.add_patch("/events/{id}", events.patch, expect_handler=expect_body)
    app.router.add_delete("/events/{id}", events.delete)
    app.router.add_get("/health", health.health)
    app.router.add_get("/openapi.json", openapi.handler())
    app.router.add_get("/ws", websocket)
    app.router.add_get("/stats", stats.stats)
    app.router.add_get("/stats/history", stats.history)
    # The older statistics service's interface.
    app.router.add_post("/event", legacy.post_event, expect_handler=expect_body)
    app.router.add_get("/statistics", legacy.statistics)
    app.router.add_get("/debug/events", legacy.debug_events)
