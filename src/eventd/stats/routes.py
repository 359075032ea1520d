"""GET /stats: rolling windows, or exact statistics over any range."""

from __future__ import annotations

from aiohttp import web

from eventd.errors import BadParameter, Unavailable
from eventd.http.params import single_values, time_param
from eventd.http.responses import json_response
from eventd.keys import CLOCK, NAIVE_TZ
from eventd.stats.keys import STATS
from eventd.stats.service import StatsService
from eventd.times import US, TimeError, format_duration, format_us, parse_duration

_PARAMS = {"window", "type", "start", "end", "event_type"}


async def caught_up(service: StatsService) -> None:
    """Wait for the windows to hold this daemon's acknowledged writes, or raise `Unavailable`."""
    if not await service.caught_up():
        raise Unavailable(
            "the statistics have not caught up with the last writes yet", retry_after=1
        )


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
    given = params.get("window")
    window = None if given is None else service.resolve_window(given, "window")
    await caught_up(service)
    now = format_us(request.app[CLOCK]())
    if window is None:
        return json_response(
            {"server_time": now, "type": type, "windows": service.snapshot(type=type)}
        )
    summary = service.snapshot([window], type)[window]
    return json_response({"server_time": now, "type": type, "window": window} | summary)


_HISTORY_PARAMS = {"window", "step", "start", "end", "type", "event_type"}
MAX_POINTS = 1000


async def history(request: web.Request) -> web.Response:
    """GET /stats/history: past values of one window, for charts to backfill."""
    service = request.app[STATS]
    params = single_values(request, _HISTORY_PARAMS)
    for name in ("window", "step", "start", "end"):
        if name not in params:
            raise BadParameter("is required", field=name)
    window = service.resolve_window(params["window"], "window")
    try:
        step = parse_duration(params["step"])
    except TimeError as exc:
        raise BadParameter(str(exc), field="step") from None
    start = time_param(params, "start", request.app[NAIVE_TZ])
    end = time_param(params, "end", request.app[NAIVE_TZ])
    assert start is not None and end is not None
    first, last = start // US, end // US
    if first > last:
        raise BadParameter("must not be after end", field="start")
    if first - service.labels[window] + 1 < service.horizon():
        raise BadParameter(
            f"reaches back before {format_us(service.horizon() * US)}, the longest window",
            field="start",
        )
    if (last - first) // step + 1 > MAX_POINTS:
        raise BadParameter(f"gives more than {MAX_POINTS} points; raise step", field="step")
    type = params.get("type")
    if type == "":
        raise BadParameter("must not be empty", field="type")
    await caught_up(service)
    points = service.history(window, step, first, last, type)
    body = {"window": window, "step": format_duration(step), "type": type, "points": points}
    return json_response(body)
