"""Turn every failure into the JSON error shape; never answer a stack trace."""

from __future__ import annotations

import logging
import math

from aiohttp import web
from aiohttp.typedefs import Handler

from eventd.errors import ApiError, Unavailable
from eventd.http.responses import error_response
from eventd.logs import request_path
from eventd.store.base import StorageError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
}


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer `ApiError`, HTTP errors, `Unavailable` and `StorageError` as JSON errors."""
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.message, field=exc.field, index=exc.index)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _http_error(request, exc)
    except Unavailable as exc:
        return _unavailable(exc.message, exc.retry_after)
    except StorageError as exc:
        # The store worker logs a run of failures once and then summarises it.
        log.debug("storage error on %s %s: %s", request.method, request_path(request), exc)
        return _unavailable(f"the store is unavailable: {exc}", 1)
    except ConnectionResetError as exc:
        if not _client_gone(request):
            log.exception("unexpected error on %s %s", request.method, request_path(request))
            return _internal()
        # The client's fault, not the daemon's: no traceback. Nobody reads this answer.
        log.debug("client went away during %s %s: %s", request.method, request_path(request), exc)
        return error_response(400, "malformed_body", "the connection closed mid-request")
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request_path(request))
        return _internal()


def _client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


def _internal() -> web.Response:
    return error_response(500, "internal", "internal error; see the daemon's log")


def _http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    code = _HTTP_CODES.get(exc.status, exc.reason.lower().replace(" ", "_"))
    headers = {}
    if exc.status == 404:
        message = f"no route for {request.method} {request.path}"
    elif exc.status == 405:
        allowed = exc.headers.get("Allow", "")
        message = f"{request.method} is not allowed on {request.path}; allowed: {allowed}"
        headers["Allow"] = allowed
    else:
        message = exc.text or exc.reason
    return error_response(exc.status, code, message, headers=headers)


def retry_after_header(seconds: float) -> dict[str, str]:
    """Return the `Retry-After` header of a 503: whole seconds, at least one."""
    return {"Retry-After": str(max(1, math.ceil(seconds)))}


def _unavailable(message: str, retry_after: float) -> web.Response:
    return error_response(503, "unavailable", message, headers=retry_after_header(retry_after))
