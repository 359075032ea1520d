"""JSON answers, encoded with msgspec."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
from aiohttp import web

_encoder = msgspec.json.Encoder()


def json_response(
    payload: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    """Answer `payload` as JSON."""
    return web.Response(
        body=_encoder.encode(payload),
        status=status,
        content_type="application/json",
        headers=headers,
    )


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    field: str | None = None,
    index: int | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """Answer the one error shape: `{"error": {status, code, message, field[, index]}}`."""
    error: dict[str, Any] = {
        "status": status,
        "code": code,
        "message": _encodable(message),
        "field": None if field is None else _encodable(field),
    }
    if index is not None:
        error["index"] = index
    return json_response({"error": error}, status=status, headers=headers)


def _encodable(text: str) -> str:
    """Return `text` with lone surrogates escaped (`\\udcff`): JSON's UTF-8 cannot hold them.

    The pure-Python HTTP parser (AIOHTTP_NO_EXTENSIONS) decodes a path's bytes that are not
    UTF-8 to surrogates, and an error message may name the path.
    """
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
