"""GET /openapi.json: the HTTP API's OpenAPI document, shipped in the package as YAML."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

import msgspec
import yaml
from aiohttp import web
from aiohttp.typedefs import Handler

try:  # libyaml's safe loader: 0.04 s where the pure-Python one takes 0.35 s
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # PyYAML built without libyaml
    from yaml import SafeLoader  # type: ignore[assignment]

SOURCE = "openapi.yaml"


@functools.cache
def document() -> dict[str, Any]:
    """Return the OpenAPI document, read from the package once per process."""
    text = resources.files(__package__).joinpath(SOURCE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = yaml.load(text, Loader=SafeLoader)
    return loaded


def handler() -> Handler:
    """Return the handler of GET /openapi.json; the document is read and encoded now."""
    body = msgspec.json.encode(document())

    async def openapi(request: web.Request) -> web.Response:
        """Answer the OpenAPI document as JSON."""
        return web.Response(body=body, content_type="application/json")

    return openapi
