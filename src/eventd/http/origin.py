"""Refuse requests from foreign web pages; answer CORS for the origins the operator lists.

A browser adds `Origin` to every cross-origin request except a plain GET or HEAD it loads
as an image, script or page, and a page cannot remove or forge it. A request that carries
an `Origin` other than the daemon's own (scheme, host and port of the request's `Host`) or
one listed in `http.cors_origins` is answered 403 before any handler runs: a page cannot
write (a `text/plain` POST needs no preflight) nor open `/ws` (WebSockets are not subject
to CORS at all). Requests without `Origin` (curl, services) pass untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, MutableMapping

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware
from yarl import URL

from eventd.http.responses import error_response

# (scheme, host, port): an origin as RFC 6454 compares them.
OriginKey = tuple[str, str, int | None]
# Opaque origins (sandboxed frames, file:// pages, some redirects) serialise as "null".
NULL_ORIGIN: OriginKey = ("null", "", None)
# The request headers the API reads; a preflight may ask for these and only these.
ALLOW_HEADERS = "Authorization, Content-Type, Content-Encoding"
# Answer headers a page may read besides the CORS-safelisted ones.
EXPOSE_HEADERS = "Allow, Retry-After"
# Seconds a browser may cache a preflight answer (browsers cap it at 2 h or 24 h).
MAX_AGE = "600"


def origin_key(text: str) -> OriginKey | None:
    """Return the (scheme, host, port) of a serialised origin, or None if it is not one."""
    if text == "null":
        return NULL_ORIGIN
    try:
        url = URL(text)
        host, port = url.host, url.port
    except ValueError:  # an invalid port, host or IDNA name: not an origin
        return None
    if not url.scheme or not host or url.raw_user is not None or url.raw_password is not None:
        return None
    if url.raw_path not in ("", "/") or url.raw_query_string or url.raw_fragment:
        return None
    return url.scheme.lower(), host.lower(), port


def parse_origins(text: str) -> frozenset[OriginKey]:
    """Parse a comma-separated list of origins; raise `ValueError` naming a bad one."""
    keys = set()
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key = origin_key(part)
        if key is None or (part != "null" and key[0] not in ("http", "https")):
            raise ValueError(
                f"{part!r} is not an origin: write scheme://host[:port] (http or https, "
                "no path), or null; every origin is listed, there is no wildcard"
            )
        keys.add(key)
    return frozenset(keys)


def setup(app: web.Application, cors_origins: str) -> None:
    """Check `Origin` on every request of `app`, before every other middleware."""
    app.middlewares.insert(0, origin_middleware(parse_origins(cors_origins)))


def origin_middleware(listed: frozenset[OriginKey]) -> Middleware:
    """Return the middleware that refuses foreign origins and answers CORS for `listed`."""

    @web.middleware
    async def check_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
        origins = request.headers.getall(hdrs.ORIGIN, [])
        if not origins:
            response = await handler(request)
            if listed:  # a shared cache must not answer a listed page with this copy
                _vary_origin(response)
            return response
        key = origin_key(origins[0]) if len(origins) == 1 else None
        if key is not None and key in listed:
            return await _cross_origin(request, handler, origins[0])
        if key is None or key != _own_origin(request):
            return _forbidden(origins)
        response = await handler(request)
        _vary_origin(response)
        return response

    return check_origin


def _own_origin(request: web.Request) -> OriginKey | None:
    # Behind a proxy that terminates TLS the scheme differs: list the public origin.
    return origin_key(f"{request.scheme}://{request.host}")


def _forbidden(origins: list[str]) -> web.Response:
    shown = origins[0] if len(origins) == 1 else f"{len(origins)} Origin headers"
    message = (
        f"requests from origin {shown[:200]!r} are refused; "
        "an operator can allow an origin in http.cors_origins"
    )
    response = error_response(403, "forbidden_origin", message, field="Origin")
    _vary_origin(response)
    return response


async def _cross_origin(request: web.Request, handler: Handler, origin: str) -> web.StreamResponse:
    if (
        request.method == hdrs.METH_OPTIONS
        and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
    ):
        allowed = _route_methods(request)
        if allowed is not None:
            return _preflight(origin, allowed)
    try:
        response = await handler(request)
    except web.HTTPException as exc:  # a redirect, which the error middleware lets through
        _allow(exc.headers, origin)
        raise
    if not response.prepared:  # the WebSocket handshake has sent its headers already
        _allow(response.headers, origin)
    return response


def _route_methods(request: web.Request) -> Iterable[str] | None:
    """Return the methods of the route a preflight asks about, or None to let it through."""
    exc = request.match_info.http_exception
    # No route answers OPTIONS itself, so an existing path matches as "method not allowed";
    # an unknown path goes on to the handler, which answers 404.
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return exc.allowed_methods
    return None


def _preflight(origin: str, methods: Iterable[str]) -> web.Response:
    headers = {
        hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin,
        hdrs.ACCESS_CONTROL_ALLOW_METHODS: ", ".join(sorted(methods)),
        hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ALLOW_HEADERS,
        hdrs.ACCESS_CONTROL_MAX_AGE: MAX_AGE,
        hdrs.VARY: "Origin",
    }
    return web.Response(status=204, headers=headers)


def _allow(headers: MutableMapping[str, str], origin: str) -> None:
    headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = origin
    headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = EXPOSE_HEADERS
    _vary_on_origin(headers)


def _vary_origin(response: web.StreamResponse) -> None:
    if not response.prepared:
        _vary_on_origin(response.headers)


def _vary_on_origin(headers: MutableMapping[str, str]) -> None:
    present = headers.get(hdrs.VARY, "")
    if "origin" not in present.lower():
        headers[hdrs.VARY] = f"{present}, Origin" if present else "Origin"
