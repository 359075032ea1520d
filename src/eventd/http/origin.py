"""Refuse requests from foreign web pages; answer CORS for the origins the operator lists.

A browser adds `Origin` to every cross-origin request except a plain GET or HEAD it loads
as an image, script or page, and a page cannot remove or forge it. A request that carries
an `Origin` other than the daemon's own (scheme, host and port of the request's `Host`) or
one listed in `http.cors_origins` is answered 403 before any handler runs: a page cannot
write (a `text/plain` POST needs no preflight) nor open `/ws` (WebSockets are not subject
to CORS at all). Requests without `Origin` (curl, services) pass untouched.

A page whose DNS name is rebound to the daemon's address is same-origin with it, so its
requests carry its own name in `Host` (and, for writes, in `Origin`). On a loopback bind
every request must therefore name a loopback host in `Host` or one listed in
`http.allowed_hosts`; elsewhere `Host` is checked once hosts are listed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, MutableMapping

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler, Middleware

from eventd.config import Config
from eventd.http.middlewares import errors
from eventd.http.responses import error_response
from eventd.origins import OriginKey, host_key, is_loopback, origin_key, parse_hosts, parse_origins

# The request headers the API reads; a preflight may ask for these and only these.
ALLOW_HEADERS = "Authorization, Content-Type, Content-Encoding"
# Answer headers a page may read besides the CORS-safelisted ones.
EXPOSE_HEADERS = "Allow, Retry-After"
# Seconds a browser may cache a preflight answer (browsers cap it at 2 h or 24 h).
MAX_AGE = "600"


class OriginPolicy:
    """The origins that get CORS answers and the hosts requests may name; a reload updates
    them in place (the middleware reads them on every request)."""

    def __init__(self, config: Config) -> None:
        # Whether Host is checked at all follows the address bound, which only a restart changes.
        self._loopback = is_loopback(config.server.host)
        self.listed: frozenset[OriginKey] = frozenset()
        self.hosts: frozenset[str] | None = None
        self.configure(config)

    def configure(self, config: Config) -> None:
        """Take `http.cors_origins` and `http.allowed_hosts` from `config`."""
        hosts = parse_hosts(config.http.allowed_hosts)
        self.listed = parse_origins(config.http.cors_origins)
        self.hosts = hosts if hosts or self._loopback else None


def middleware(policy: OriginPolicy) -> Middleware:
    """Return the middleware that checks `Host` and `Origin` as `policy` says at the time.

    It refuses foreign origins and answers CORS for `policy.listed`; with `policy.hosts`
    (None: any host), `Host` must name a loopback host or one of them.
    """

    @web.middleware
    async def check_origin(request: web.Request, handler: Handler) -> web.StreamResponse:
        listed, hosts = policy.listed, policy.hosts
        if hosts is not None and not _host_allowed(request, hosts):
            return _forbidden_host(request.headers.getall(hdrs.HOST, []))
        # The CORS headers go on the answer the client gets, errors included: turn exceptions
        # into answers here, inside this middleware.
        handler = functools.partial(errors, handler=handler)
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


def _host_allowed(request: web.Request, hosts: frozenset[str]) -> bool:
    values = request.headers.getall(hdrs.HOST, [])
    if not values:  # HTTP/1.0 without Host: no browser sends that, so no page can
        return True
    key = host_key(values[0]) if len(values) == 1 else None
    return key is not None and (is_loopback(key[0]) or key[0] in hosts)


def _own_origin(request: web.Request) -> OriginKey | None:
    # Not request.host: without a Host header it looks this machine's name up, blocking.
    values = request.headers.getall(hdrs.HOST, [])
    if len(values) != 1 or host_key(values[0]) is None:
        return None
    # Behind a proxy that terminates TLS the scheme differs: list the public origin.
    return origin_key(f"{request.scheme}://{values[0]}")


def _forbidden_host(values: list[str]) -> web.Response:
    shown = values[0] if len(values) == 1 else f"{len(values)} Host headers"
    message = (
        f"requests for host {shown[:200]!r} are refused; "
        "an operator can allow a host in http.allowed_hosts"
    )
    return error_response(403, "forbidden_host", message, field="Host")


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
