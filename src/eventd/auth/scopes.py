"""The scope of every route, in one table: a route missing here stops the daemon's start
(and fails tests/auth/test_scopes.py), so no new route is served without a decision.
"""

from __future__ import annotations

from aiohttp import hdrs, web

OPEN = "open"  # anyone: the health probe, the dashboard's page and files
SELF = "self"  # authenticates itself: the WebSocket, by header or first `auth` message

# (method, the route's canonical path) -> the scope it needs. HEAD goes as GET.
ROUTE_SCOPES: dict[tuple[str, str], str] = {
    ("GET", "/health"): OPEN,
    ("GET", "/"): OPEN,
    ("GET", "/dashboard/{asset}"): OPEN,
    ("GET", "/ws"): SELF,
    ("GET", "/openapi.json"): "read",
    # events
    ("POST", "/events"): "write",
    ("POST", "/events/"): "write",
    ("GET", "/events"): "read",
    ("GET", "/events/"): "read",
    ("DELETE", "/events"): "admin",
    ("DELETE", "/events/"): "admin",
    ("GET", "/events/{id}"): "read",
    ("PUT", "/events/{id}"): "write",
    ("PATCH", "/events/{id}"): "write",
    ("DELETE", "/events/{id}"): "write",
    ("POST", "/event"): "write",
    ("GET", "/debug/events"): "admin",
    # stats
    ("GET", "/stats"): "read",
    ("GET", "/stats/history"): "read",
    ("GET", "/statistics"): "read",
    # reminders
    ("GET", "/reminders"): "read",
    ("GET", "/events/{id}/reminders"): "read",
    # timelines
    ("GET", "/timelines"): "read",
    ("GET", "/timelines/{key}"): "read",
    ("GET", "/transitions"): "read",
    # metrics
    ("GET", "/metrics"): "metrics",
}


def route_scope(route: web.AbstractRoute) -> str | None:
    """Return the scope `route` needs, or None if the table does not say."""
    resource = route.resource
    if resource is None:
        return None
    method = hdrs.METH_GET if route.method == hdrs.METH_HEAD else route.method
    return ROUTE_SCOPES.get((method, resource.canonical))


def undeclared(router: web.UrlDispatcher) -> list[str]:
    """Return "METHOD path" for each route of `router` whose scope the table lacks."""
    return [
        f"{route.method} {route.resource.canonical}"
        for route in router.routes()
        if route.resource is not None and route_scope(route) is None
    ]
