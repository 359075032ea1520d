"""The older statistics service's interface, kept so that its clients work unchanged."""

from __future__ import annotations

from aiohttp import web
from msgspec import UNSET

from eventd.errors import BadParameter, InvalidField
from eventd.http.bodies import parse_event
from eventd.http.responses import json_response
from eventd.keys import CLOCK, CONFIG, EVENTS, STATS
from eventd.model import to_out
from eventd.store.base import Query
from eventd.store.worker import RunQuery
from eventd.times import US, format_us

HOUR = 3600


async def post_event(request: web.Request) -> web.Response:
    """POST /event {timestamp, value}: store it; answer in the older service's shape."""
    given = parse_event(await request.read())
    for name in ("timestamp", "value"):
        aliases = {"timestamp": ("timestamp", "at", "datetime"), "value": ("value",)}[name]
        if all(getattr(given, alias) is UNSET for alias in aliases):
            raise InvalidField("is required", field=name)
    [result] = await request.app[EVENTS].create([given], batch=False)
    event = to_out(result.event)
    return json_response(
        {
            "status": "success",
            "message": "event received" if result.created else "event already stored",
            "received_timestamp": event.timestamp,
            "server_time": format_us(request.app[CLOCK]()),
            "event": event,
        }
    )


async def statistics(request: web.Request) -> web.Response:
    """GET /statistics: count, min, max and mean over the last hour (nulls when empty)."""
    service = request.app[STATS]
    now = request.app[CLOCK]()
    if (window := service.window_name("1h")) is not None:
        summary = service.snapshot([window])[window]
    else:
        summary = await service.over_range(now - HOUR * US + 1, now, None)
    return json_response({name: summary[name] for name in ("count", "min", "max", "mean")})


async def debug_events(request: web.Request) -> web.Response:
    """GET /debug/events: the newest events with their age and whether the hour holds them."""
    limits = request.app[CONFIG].limits
    text = request.query.get("limit", "100")
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= limits.max_page_size):
        raise BadParameter(f"must be an integer from 1 to {limits.max_page_size}", field="limit")
    now = request.app[CLOCK]()
    page = await request.app[EVENTS].worker.call(RunQuery(Query(order="desc", limit=int(text))))
    now_second = now // US
    events = [
        {
            "event": to_out(event),
            "age_seconds": (now - event.ts) / US,
            "in_window": now_second - HOUR < event.ts // US <= now_second,
        }
        for event in page.events
    ]
    return json_response({"server_time": format_us(now), "window": "1h", "events": events})
