"""Check every request's credentials against the scope its route needs."""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from eventd.access import credentials, set_grant
from eventd.auth.scopes import OPEN, SELF, route_scope
from eventd.http.responses import error_response


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
