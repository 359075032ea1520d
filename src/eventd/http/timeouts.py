"""Bounded reads: a request's header and its body must arrive in time.

Header: aiohttp closes a connection that has waited longer than its `keepalive_timeout`
for a complete request header, counted from the connection's start or its previous answer
(a partial header is still waiting). `handler_args` sets it to `server.header_timeout`.

Body: aiohttp has no bound on it, so `body_timeout` watches every request that has one. A
body must arrive within `server.body_timeout` seconds, extended by one second for every
`server.body_min_rate` bytes received (Apache's mod_reqtimeout rule): a slow but steady
upload passes, a trickle or a declared length that never comes is answered 408 and its
connection closed.

Size: a Content-Length above `limits.max_body_bytes` is answered 413 from the header alone,
before a `100 Continue` invites the body (`expect_body`) and before any wait for it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import StreamReader, web
from aiohttp.typedefs import Handler
from aiohttp.web_urldispatcher import _default_expect_handler

from eventd.config import ServerConfig
from eventd.http.responses import error_response
from eventd.keys import CONFIG
from eventd.logs import request_path

log = logging.getLogger(__name__)


def handler_args(server: ServerConfig) -> dict[str, Any]:
    """Return the aiohttp request-handler options that bound the wait for a header."""
    return {"keepalive_timeout": server.header_timeout}


class BodyTimeout(TimeoutError):
    """The body came too slowly; a TimeoutError, so aiohttp drops its rest without a trace."""


class BodyRefused(TimeoutError):
    """The body is not wanted; a TimeoutError, so aiohttp closes without waiting for it."""


class _BodyWatch:
    """Fail a body stream, once, when it falls behind its deadline."""

    __slots__ = ("_content", "_handle", "_loop", "_rate", "_timeout", "fired", "start")

    def __init__(self, content: StreamReader, timeout: float, rate: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._content = content
        self._timeout = timeout
        self._rate = rate
        self.start = self._loop.time()
        self.fired = False
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(self._deadline(), self._check)

    def _deadline(self) -> float:
        earned = self._content.total_bytes / self._rate if self._rate else 0.0
        return self.start + self._timeout + earned

    def _check(self) -> None:
        self._handle = None
        if self._content.is_eof():
            return
        deadline = self._deadline()
        if self._loop.time() < deadline:
            self._handle = self._loop.call_at(deadline, self._check)
            return
        self.fired = True
        # Wakes a handler blocked in a read of the body; its next read raises too.
        self._content.set_exception(BodyTimeout("the request body came too slowly"))

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


async def expect_body(request: web.Request) -> web.StreamResponse | None:
    """Answer `Expect: 100-continue` with 413 if the declared body is too large, else 100."""
    refusal = _declared_too_large(request)
    if refusal is not None:
        return refusal
    await _default_expect_handler(request)
    return None


def _declared_too_large(request: web.Request) -> web.Response | None:
    """Return a 413 answer if the Content-Length is above `limits.max_body_bytes`."""
    limit = request.app[CONFIG].limits.max_body_bytes
    declared = request.content_length
    if declared is None or declared <= limit:
        return None
    log.debug(
        "%s %s from %s: a body of %d bytes declared; answered 413",
        request.method,
        request_path(request),
        request.remote,
        declared,
    )
    response = error_response(
        413,
        "too_large",
        f"the body declares {declared} bytes (Content-Length); at most {limit} allowed",
        field="Content-Length",
    )
    # The body may follow anyway: the connection cannot serve another request, and
    # aiohttp, which would otherwise read and drop the body for up to 10 s, stops at once.
    response.force_close()
    request.content.set_exception(BodyRefused("the declared body is too large"))
    return response


@web.middleware
async def body_timeout(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer 408 and close the connection when a request body arrives too slowly."""
    if not request.body_exists:
        return await handler(request)
    refusal = _declared_too_large(request)
    if refusal is not None:
        return refusal
    server = request.app[CONFIG].server
    watch = _BodyWatch(request.content, server.body_timeout, server.body_min_rate)
    try:
        response = await handler(request)
    except Exception:
        if not watch.fired:
            raise
        return _timed_out(request, watch)
    finally:
        watch.cancel()
    # Whatever the handler made of the failed read, the answer is the timeout.
    return _timed_out(request, watch) if watch.fired else response


def _timed_out(request: web.Request, watch: _BodyWatch) -> web.Response:
    server = request.app[CONFIG].server
    received = request.content.total_bytes
    seconds = asyncio.get_running_loop().time() - watch.start
    log.info(
        "%s %s from %s: body too slow (%d bytes in %.1f s); answered 408",
        request.method,
        request_path(request),
        request.remote,
        received,
        seconds,
    )
    response = error_response(
        408,
        "request_timeout",
        f"the request body came too slowly: {received} bytes in {seconds:.1f} s "
        f"(server.body_timeout {server.body_timeout:g} s, "
        f"server.body_min_rate {server.body_min_rate} bytes/s)",
    )
    # The rest of the body may still be on its way: the connection cannot serve another.
    response.force_close()
    return response
