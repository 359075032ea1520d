"""The older statistics service's event routes, kept so that its clients work unchanged."""

from __future__ import annotations

from aiohttp import web
from msgspec import UNSET

from eventd.errors import InvalidField
from eventd.events.keys import EVENTS
from eventd.http.bodies import parse_event
from eventd.http.decoding import read_body
from eventd.http.params import limit_param, single_values
from eventd.http.responses import json_response
from eventd.keys import CLOCK, CONFIG
from eventd.model import has_time
from eventd.times import HOUR, US, format_us


async def post_event(request: web.Request) -> web.Response:
    """POST /event {timestamp, value}: store it; answer in the older service's shape."""
    limits = request.app[CONFIG].limits
    given = parse_event(await read_body(request), max_depth=limits.max_data_depth)
    if not has_time(given):
        raise InvalidField("is required", field="timestamp")
    if given.value is UNSET:
        raise InvalidField("is required", field="value")
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


async def debug_events(request: web.Request) -> web.Response:
    """GET /debug/events: the newest events, their age, and whether the last hour holds them."""
    params = single_values(request, {"limit"})
    limit = limit_param(params, request.app[CONFIG].limits, default=100)
    now = request.app[CLOCK]()
    events = request.app[EVENTS]
    newest = await events.newest(limit)
    total = await events.count()
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
                for event in newest
            ],
        }
    )
