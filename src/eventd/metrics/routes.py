"""GET /metrics: every metric of the app's registry in Prometheus text format."""

from __future__ import annotations

from aiohttp import web
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from eventd.http.params import single_values
from eventd.metrics.keys import REGISTRY


async def metrics(request: web.Request) -> web.Response:
    """Answer the metrics in the text format every Prometheus version reads (0.0.4)."""
    single_values(request, set())
    body = generate_latest(request.app[REGISTRY])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})
