"""Handlers of /timelines and /transitions: thin, they parse, ask the service, answer."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from eventd.errors import BadParameter, Unavailable
from eventd.fields import FieldPath, PathError, canonical, parse_path, parse_value
from eventd.http.params import limit_param, single_values, time_param
from eventd.http.responses import json_response
from eventd.keys import CLOCK, CONFIG, NAIVE_TZ, WORKER
from eventd.store.commands import CursorSecret
from eventd.store.where import check_value
from eventd.timelines import cursor
from eventd.timelines.keys import TRANSITIONS
from eventd.timelines.points import Window
from eventd.timelines.service import (
    Mode,
    Span,
    TransitionsService,
    keys_scanned,
    timeline,
    transitions,
)
from eventd.times import MIN_US, US, format_us

DEFAULT_WINDOW = 3600  # seconds: /transitions without `start` looks at the hour before `end`
_TIMELINE_PARAMS = {"field", "mode", "start", "end", "limit", "cursor"}
_TRANSITION_PARAMS = {"field", "start", "end", "from", "to", "type", "key"}


def field_param(params: dict[str, str]) -> FieldPath:
    """Return the `field` parameter as a path, or raise `BadParameter` naming it."""
    text = params.get("field")
    if text is None:
        raise BadParameter("is required: the field path whose values to follow", field="field")
    try:
        return parse_path(text)
    except PathError as exc:
        raise BadParameter(str(exc), field="field") from None


def mode_param(params: dict[str, str]) -> Mode:
    """Return the `mode` parameter: `changes` (the default) or `all`."""
    mode = params.get("mode", "changes")
    if mode == "changes":
        return "changes"
    if mode == "all":
        return "all"
    raise BadParameter("must be changes or all", field="mode")


def span_param(request: web.Request, params: dict[str, str]) -> Span:
    """Return the optional `start` and `end` parameters."""
    naive_tz = request.app[NAIVE_TZ]
    start = time_param(params, "start", naive_tz)
    end = time_param(params, "end", naive_tz)
    if start is not None and end is not None and start > end:
        raise BadParameter("must not be after end", field="start")
    return Span(start, end)


def _text(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    if value == "":
        raise BadParameter("must not be empty", field=name)
    return value


def value_param(params: dict[str, str], name: str) -> str | None:
    """Return the canonical value of the optional `from` or `to` parameter; refuse one
    nested too deeply, as `data.<path>` searches do."""
    text = params.get(name)
    if text is None:
        return None
    try:
        value = parse_value(text)
        check_value(value)
    except ValueError as exc:
        raise BadParameter(str(exc), field=name) from None
    return canonical(value)


async def caught_up(service: TransitionsService) -> None:
    """Wait for the index to hold this daemon's acknowledged writes, or raise `Unavailable`."""
    if not await service.caught_up():
        raise Unavailable(
            "the transitions have not caught up with the last writes yet", retry_after=1
        )


async def key_timeline(request: web.Request) -> web.Response:
    """GET /timelines/{key}: how a field's value changed along one key, a page of points at a
    time."""
    params = single_values(request, _TIMELINE_PARAMS)
    path, mode, span = field_param(params), mode_param(params), span_param(request, params)
    limit = limit_param(params, request.app[CONFIG].limits)
    key = request.match_info["key"]
    worker = request.app[WORKER]
    filters = (path.key, mode, span.start, span.end)
    token = params.get("cursor")
    after = None
    if token is not None:
        after = cursor.decode_point(token, key, filters, await worker.call(CursorSecret()))
    body, cut = await timeline(worker, key, path, mode, span, limit, after)
    body["next_cursor"] = None
    if cut is not None:
        secret = await worker.call(CursorSecret())
        body["next_cursor"] = cursor.encode_point(cut, key, filters, secret)
    return json_response(body)


async def list_timelines(request: web.Request) -> web.Response:
    """GET /timelines: the timelines of every key that has the field, a page of keys at a
    time, each cut at `limit` points."""
    params = single_values(request, _TIMELINE_PARAMS)
    path, mode, span = field_param(params), mode_param(params), span_param(request, params)
    limit = limit_param(params, request.app[CONFIG].limits)
    worker = request.app[WORKER]
    filters = (path.key, mode, span.start, span.end)
    secret = await worker.call(CursorSecret())
    token = params.get("cursor")
    after = None if token is None else cursor.decode(token, filters, secret)
    service = request.app[TRANSITIONS]
    index = service.index(path)
    if index is not None:
        await caught_up(service)
        keys, more = index.keys_after(after, limit)
    else:
        keys, more = await keys_scanned(worker, path, after, limit)
    lines = []
    for key in keys:
        line, cut = await timeline(worker, key, path, mode, span, limit)
        resume = None if cut is None else cursor.encode_point(cut, key, filters, secret)
        lines.append(
            {"key": key, "before": line["before"], "points": line["points"], "next_cursor": resume}
        )
    next_cursor = None
    if more and keys:
        next_cursor = cursor.encode(keys[-1], filters, secret)
    body = {"field": path.text, "mode": mode, "timelines": lines, "next_cursor": next_cursor}
    return json_response(body)


def window_param(request: web.Request, params: dict[str, str]) -> Window:
    """Return the window of a `/transitions` request: `end` defaults to now, `start` to an
    hour before `end`."""
    naive_tz = request.app[NAIVE_TZ]
    end = time_param(params, "end", naive_tz)
    if end is None:
        end = request.app[CLOCK]()
    start = time_param(params, "start", naive_tz)
    if start is None:
        start = max(MIN_US, end - DEFAULT_WINDOW * US)
    if start > end:
        raise BadParameter("must not be after end", field="start")
    source, target = value_param(params, "from"), value_param(params, "to")
    type, key = _text(params, "type"), _text(params, "key")
    return Window(
        start,
        end,
        source,
        target,
        None if type is None else frozenset([type]),
        None if key is None else frozenset([key]),
    )


async def list_transitions(request: web.Request) -> web.Response:
    """GET /transitions: how often each value followed another in a window, and the time it
    took."""
    params = single_values(request, _TRANSITION_PARAMS)
    path = field_param(params)
    window = window_param(request, params)
    service = request.app[TRANSITIONS]
    if service.index(path) is not None:
        await caught_up(service)
    body: dict[str, Any] = {
        "field": path.text,
        "start": format_us(window.start),
        "end": format_us(window.end),
        "transitions": await transitions(service, path, window),
    }
    return json_response(body)
