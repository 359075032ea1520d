"""Handlers of /events: thin, they parse, call the event service and answer."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from aiohttp import web

from eventd.errors import BadParameter
from eventd.events.keys import EVENTS
from eventd.http.bodies import parse_event, parse_events
from eventd.http.decoding import read_body
from eventd.http.params import list_query, single_values
from eventd.http.responses import json_response
from eventd.keys import CONFIG, NAIVE_TZ
from eventd.model import Event, EventOut, to_out
from eventd.pacing import Work, paced, slices
from eventd.store.base import PutResult

NDJSON_TYPES = frozenset({"application/x-ndjson", "application/ndjson", "application/jsonl"})
ANSWER_SLICE = 256  # events encoded per step of a batch's answer (see `pacing`)
_encoder = msgspec.json.Encoder()  # as `json_response`'s: the same bytes


async def create(request: web.Request) -> web.Response:
    """POST /events: one event, a JSON array, or NDJSON lines."""
    limits = request.app[CONFIG].limits
    body = await read_body(request)
    ndjson = request.content_type in NDJSON_TYPES
    items, batch = await parse_events(
        body, ndjson=ndjson, max_batch=limits.max_batch, max_depth=limits.max_data_depth
    )
    results = await request.app[EVENTS].create(items, batch=batch)
    if not batch:
        result = results[0]
        return json_response(to_out(result.event), status=201 if result.created else 200)
    status = 201 if any(result.created for result in results) else 200
    body = await paced(_batch_answer(results))
    return web.Response(body=body, status=status, content_type="application/json")


def _batch_answer(results: list[PutResult]) -> Work[bytes]:
    """Encode `{"events": [...]}` a slice of events at a time: the bytes of one encoding."""
    parts = []
    for part in slices(results, ANSWER_SLICE):
        parts.append(_encoder.encode([to_out(result.event) for result in part])[1:-1])
        yield
    return b'{"events":[' + b",".join(parts) + b"]}"


async def list_events(request: web.Request) -> web.Response:
    """GET /events: one page in time order."""
    query, token = list_query(request, request.app[CONFIG].limits, request.app[NAIVE_TZ])
    listing = await request.app[EVENTS].list(query, token)
    events = await paced(_page_answer(listing.events))  # as large as `max_page_size` says
    cursors = {"next_cursor": listing.next_cursor, "prev_cursor": listing.prev_cursor}
    return json_response({"events": events} | cursors)


def _page_answer(events: Sequence[Event]) -> Work[list[EventOut]]:
    """Make a page's events into their answers, a slice of events at a time."""
    answers: list[EventOut] = []
    for part in slices(events, ANSWER_SLICE):
        answers.extend(to_out(event) for event in part)
        yield
    return answers


async def clear(request: web.Request) -> web.Response:
    """DELETE /events?confirm=true: delete every event."""
    if single_values(request, {"confirm"}).get("confirm") != "true":
        raise BadParameter("add confirm=true to delete every event", field="confirm")
    return json_response({"deleted": await request.app[EVENTS].clear()})


async def get(request: web.Request) -> web.Response:
    """GET /events/{id}."""
    event = await request.app[EVENTS].get(request.match_info["id"])
    return json_response(to_out(event))


async def replace(request: web.Request) -> web.Response:
    """PUT /events/{id}: replace every field but the id."""
    given = parse_event(await read_body(request), max_depth=_max_depth(request))
    event = await request.app[EVENTS].replace(request.match_info["id"], given)
    return json_response(to_out(event))


async def patch(request: web.Request) -> web.Response:
    """PATCH /events/{id}: change the given fields."""
    given = parse_event(await read_body(request), max_depth=_max_depth(request))
    event = await request.app[EVENTS].patch(request.match_info["id"], given)
    return json_response(to_out(event))


def _max_depth(request: web.Request) -> int:
    return request.app[CONFIG].limits.max_data_depth


async def delete(request: web.Request) -> web.Response:
    """DELETE /events/{id}."""
    await request.app[EVENTS].delete(request.match_info["id"])
    return web.Response(status=204)
