"""Check every request's credentials against the scope its route needs."""

from __future__ import annotations

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from eventd.access import GATE, Grant, set_grant
from eventd.auth.scopes import OPEN, SELF, route_scope
from eventd.http.responses import error_response

_BEARER = "bearer "


def credentials(request: web.Request) -> Grant | None:
    """Return what the request's `Authorization` grants; None for a bad or unknown one."""
    gate = request.app[GATE]
    values = request.headers.getall(hdrs.AUTHORIZATION, [])
    if not values:
        return gate.anonymous
    if len(values) > 1 or values[0][: len(_BEARER)].lower() != _BEARER:
        return None
    return gate.check(values[0][len(_BEARER) :].strip())


@web.middleware
async def check_scope(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer 401 to missing or unknown tokens and 403 to tokens without the route's scope."""
    route = request.match_info.route
    if route.resource is None:  # no route: 404 or 405 tells nothing worth a token
        return await handler(request)
    scope = route_scope(route)
    if scope == OPEN:
        return await handler(request)
    grant = credentials(request)
    if scope == SELF:
        set_grant(request, grant)
        return await handler(request)
    if grant is None:
        return _unauthorized("the token in Authorization is not known")
    if scope is not None and grant.allows(scope):
        set_grant(request, grant)
        return await handler(request)
    where = f"{request.method} {route.resource.canonical}"
    if grant.name is None:
        return _unauthorized(f"{where} needs a token: send Authorization: Bearer <secret>")
    needed = f"the {scope} scope" if scope is not None else "a declared scope"
    message = f"token {grant.name!r} lacks {needed} for {where}"
    return error_response(403, "forbidden", message, field="Authorization")


def _unauthorized(message: str) -> web.Response:
    return error_response(
        401, "unauthorized", message, field="Authorization", headers={"WWW-Authenticate": "Bearer"}
    )
