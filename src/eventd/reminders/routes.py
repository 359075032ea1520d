"""Handlers of /reminders and /events/{id}/reminders: thin, they parse, ask the service, answer."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from typing import Any, get_args

from aiohttp import web

from eventd.errors import BadParameter, NotFound, NotSupported
from eventd.http.params import limit_param, single_values, time_param
from eventd.http.responses import json_response
from eventd.keys import CLOCK, CONFIG, NAIVE_TZ, WORKER
from eventd.reminders import cursor
from eventd.reminders.keys import REMINDERS
from eventd.reminders.service import ReminderService
from eventd.store.base import Reminder, ReminderQuery, ReminderState
from eventd.store.commands import CursorSecret, Get
from eventd.times import format_duration, format_us

_PARAMS = {"start", "end", "type", "key", "state", "limit", "cursor"}
_STATES: tuple[ReminderState, ...] = get_args(ReminderState)


async def list_reminders(request: web.Request) -> web.Response:
    """GET /reminders: one page in due order, pending ones unless `state` says otherwise."""
    service = _service(request)
    query, token = _query(request)
    if token is not None:
        secret = await request.app[WORKER].call(CursorSecret())
        query = dataclasses.replace(query, after=cursor.decode(token, query, secret))
    page = await service.listing(query)
    next_cursor = None
    if page.more and page.reminders:
        secret = await request.app[WORKER].call(CursorSecret())
        next_cursor = cursor.encode(page.reminders[-1].order, query, secret)
    titles = await _titles(request, page.reminders)
    items = [listed(reminder, titles.get(reminder.event_id)) for reminder in page.reminders]
    now = request.app[CLOCK]()
    body = {"server_time": format_us(now), "reminders": items, "next_cursor": next_cursor}
    return json_response(body)


async def event_reminders(request: web.Request) -> web.Response:
    """GET /events/{id}/reminders: every reminder of one event, in due order."""
    service = _service(request)
    id = request.match_info["id"]
    if await request.app[WORKER].call(Get(id)) is None:
        raise NotFound(f"no event with id {id!r}", field="id")
    reminders = await service.of_event(id)
    return json_response({"event_id": id, "reminders": [item(r) for r in reminders]})


def item(reminder: Reminder) -> dict[str, Any]:
    """Return a reminder as the listings answer it."""
    return {
        "event_id": reminder.event_id,
        "offset": format_duration(reminder.offset),
        "offset_seconds": reminder.offset,
        "due": format_us(reminder.due),
        "state": reminder.state,
        "sent_at": None if reminder.sent_at is None else format_us(reminder.sent_at),
    }


def listed(reminder: Reminder, title: str | None) -> dict[str, Any]:
    """Return a reminder as `GET /reminders` answers it: with its event's title, type and key."""
    return item(reminder) | {"title": title, "type": reminder.type, "key": reminder.key}


async def _titles(request: web.Request, reminders: Sequence[Reminder]) -> dict[str, str | None]:
    """Return the titles of the reminders' events (an event deleted meanwhile has none)."""
    # One Get per event (a page holds at most limits.max_page_size): the engine contract
    # has no read of several ids, and the worker runs these queued together.
    ids = list(dict.fromkeys(reminder.event_id for reminder in reminders))
    worker = request.app[WORKER]
    events = await asyncio.gather(*(worker.call(Get(id)) for id in ids))
    return {event.id: event.title for event in events if event is not None}


def _service(request: web.Request) -> ReminderService:
    service = request.app[REMINDERS]
    if not service.enabled:
        name = request.app[WORKER].engine.name
        raise NotSupported(f"the {name} engine cannot keep reminders")
    return service


def _query(request: web.Request) -> tuple[ReminderQuery, str | None]:
    """Return the listing query and the cursor token of a `GET /reminders` request."""
    params = single_values(request, _PARAMS)
    naive_tz = request.app[NAIVE_TZ]
    start = time_param(params, "start", naive_tz)
    end = time_param(params, "end", naive_tz)
    if start is not None and end is not None and start > end:
        raise BadParameter("must not be after end", field="start")
    state = params.get("state", "pending")
    if state not in _STATES:
        raise BadParameter(f"must be one of {', '.join(_STATES)}", field="state")
    for name in ("type", "key"):
        if params.get(name) == "":
            raise BadParameter("must not be empty", field=name)
    query = ReminderQuery(
        state=state,
        start=start,
        end=end,
        type=params.get("type"),
        key=params.get("key"),
        limit=limit_param(params, request.app[CONFIG].limits),
    )
    return query, params.get("cursor")
