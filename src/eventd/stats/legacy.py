"""The older statistics service's `/statistics`, kept so that its clients work unchanged."""

from __future__ import annotations

from aiohttp import web

from eventd.http.params import single_values
from eventd.http.responses import json_response
from eventd.keys import CLOCK
from eventd.stats.keys import STATS
from eventd.stats.routes import caught_up
from eventd.times import HOUR, US


async def statistics(request: web.Request) -> web.Response:
    """GET /statistics: count, min, max and mean over the last hour (nulls when empty)."""
    single_values(request, set())
    service = request.app[STATS]
    now = request.app[CLOCK]()
    if (window := service.window_name("1h")) is not None:
        await caught_up(service)
        summary = service.snapshot([window])[window]
    else:
        summary = await service.over_range(now - HOUR * US + 1, now, None)
    return json_response({name: summary[name] for name in ("count", "min", "max", "mean")})
