"""The older statistics service's interface, kept so that its clients work unchanged."""

from __future__ import annotations

from aiohttp import web
from msgspec import UNSET

from eventd.errors import InvalidField
from eventd.http.bodies import parse_event
from eventd.http.decoding import read_body
from eventd.http.params import int_param, single_values
from eventd.http.responses import json_response
from eventd.http.stats import caught_up
from eventd.keys import CLOCK, CONFIG, EVENTS, STATS
from eventd.store.base import Query
from eventd.store.worker import Count, RunQuery
from eventd.times import US, format_us

HOUR = 3600


async def post_event(request: web.Request) -> web.Response:
    """POST /event {timestamp, value}: store it; answer in the older service's shape."""
    limits = request.app[CONFIG].limits
    given = parse_event(await read_body(request), max_depth=limits.max_data_depth)
    for name in ("timestamp", "value"):
        aliases = {"timestamp": ("timestamp", "at", "datetime"), "value": ("value",)}[name]
        if all(getattr(given, alias) is UNSET for alias in aliases):
            raise InvalidField("is required", field=name)
    if given.value is None:
        # The older service required a number: a null would store an event its statistics
        # never count.
        raise InvalidField("must be a number, not null", field="value")
    # The same id and content again is stored already: the same answer (the older service
    # had no ids, and its clients know no other).
    [result] = await request.app[EVENTS].create([given], batch=False)
    return json_response(
        {
            "status": "success",
            "message": "Event stored successfully",
            "received_timestamp": iso_offset(result.event.ts),
        }
    )


def iso_offset(us: int) -> str:
    """Format a time as the older service did: `2025-01-01T12:00:00.250000+00:00`."""
    return format_us(us)[:-1] + "+00:00"


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


async def debug_events(request: web.Request) -> web.Response:
    """GET /debug/events: the newest events, their age, and whether the last hour holds them."""
    limits = request.app[CONFIG].limits
    params = single_values(request, {"limit"})
    limit = int_param(params.get("limit", "100"), "limit", 1, limits.max_page_size)
    now = request.app[CLOCK]()
    events = request.app[EVENTS]
    page = await events.worker.call(RunQuery(Query(order="desc", limit=limit)))
    total = await events.worker.call(Count(Query()))
    cutoff = now - HOUR * US
    return json_response(
        {
            "current_time": iso_offset(now),
            "cutoff_time": iso_offset(cutoff),
            "total_events": total,
            "events": [
                {
                    "timestamp": iso_offset(event.ts),
                    "value": event.value,
                    "is_recent": cutoff <= event.ts <= now,
                    "age_minutes": (now - event.ts) / (60 * US),
                }
                for event in page.events
            ],
        }
    )
