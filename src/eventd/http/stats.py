"""GET /stats: rolling windows, or exact statistics over any range."""

from __future__ import annotations

from aiohttp import web

from eventd.errors import BadParameter
from eventd.http.params import single_values, time_param
from eventd.http.responses import json_response
from eventd.keys import CLOCK, NAIVE_TZ, STATS
from eventd.times import format_us

_PARAMS = {"window", "type", "start", "end", "event_type"}


async def stats(request: web.Request) -> web.Response:
    """Every window; one with `window`; or exact statistics over `start`..`end`."""
    service = request.app[STATS]
    params = single_values(request, _PARAMS)
    type = params.get("type")
    if type == "":
        raise BadParameter("must not be empty", field="type")
    start = time_param(params, "start", request.app[NAIVE_TZ])
    end = time_param(params, "end", request.app[NAIVE_TZ])
    if (start is None) != (end is None):
        raise BadParameter("start and end go together", field="end" if end is None else "start")
    if start is not None and end is not None:
        if "window" in params:
            raise BadParameter("give either window or start and end", field="window")
        if start > end:
            raise BadParameter("must not be after end", field="start")
        return json_response(await service.over_range(start, end, type))
    now = format_us(request.app[CLOCK]())
    given = params.get("window")
    if given is None:
        return json_response(
            {"server_time": now, "type": type, "windows": service.snapshot(type=type)}
        )
    window = service.window_name(given)
    if window is None:
        known = ", ".join(service.labels)
        raise BadParameter(f"unknown window; configured: {known}", field="window")
    summary = service.snapshot([window], type)[window]
    return json_response({"server_time": now, "type": type, "window": window} | summary)
