"""Query-string parameters of listings, checked with errors naming the parameter."""

from __future__ import annotations

import re
from datetime import tzinfo
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

import msgspec
from aiohttp import web

from eventd.config import Limits
from eventd.errors import BadParameter
from eventd.fields import FieldPath, parse_value
from eventd.store.base import Query
from eventd.store.where import data_clause
from eventd.times import EPOCH_BOUND, TimeError, parse_timestamp

_ALIASES = {"event_type": "type", "pageSize": "limit"}
_LIST_PARAMS = {"start", "end", "type", "key", "cursor", "limit", "order", *_ALIASES}
DATA_PREFIX = "data."  # data.<path>=<value>: a field-value search
MAX_DATA_PARAMS = 16
OUT_OF_RANGE = "holds a number out of range (beyond about ±1.8e308, or of more than 4,300 digits)"
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# More digits than the bound is out of range: checked first, as int() of more than 4,300
# digits raises.
_EPOCH_DIGITS = len(str(EPOCH_BOUND))
# A `+` in an unencoded query string arrives as a space: "12:00:00 01:00" means "+01:00".
_SPACED_OFFSET = re.compile(r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


def list_query(
    request: web.Request, limits: Limits, naive_tz: tzinfo | None
) -> tuple[Query, str | None]:
    """Return the listing query and the cursor token of a `GET /events` request."""
    params = single_values(request, _LIST_PARAMS, prefix=DATA_PREFIX)
    start = time_param(params, "start", naive_tz)
    end = time_param(params, "end", naive_tz)
    if start is not None and end is not None and start > end:
        raise BadParameter("must not be after end", field="start")
    order = params.get("order", "asc")
    if order not in ("asc", "desc"):
        raise BadParameter("must be asc or desc", field="order")
    query = Query(
        start=start,
        end=end,
        type=_text(params, "type"),
        key=_text(params, "key"),
        order=order,  # type: ignore[arg-type]
        limit=limit_param(params, limits),
        where=where_params(params),
    )
    return query, params.get("cursor")


def where_params(params: dict[str, str]) -> tuple[tuple[FieldPath, Any], ...]:
    """Return the clauses of the `data.<path>=<value>` parameters, ANDed.

    The value is JSON when it parses as JSON, else the text as a string. Two parameters that
    name one field (`data.a` and `data./a`) are refused, as a repeated parameter is.
    """
    clauses: dict[str, tuple[str, tuple[FieldPath, Any]]] = {}
    for name, text in params.items():
        if not name.startswith(DATA_PREFIX):
            continue
        if len(clauses) == MAX_DATA_PARAMS:
            raise BadParameter(
                f"at most {MAX_DATA_PARAMS} data. parameters are allowed", field=name
            )
        try:
            path, value = data_clause(name[len(DATA_PREFIX) :], _search_value(text))
        except ValueError as exc:
            raise BadParameter(str(exc), field=name) from None
        if path.key in clauses:
            raise BadParameter(f"names the field of {clauses[path.key][0]} again", field=name)
        clauses[path.key] = (name, (path, value))
    return tuple(clause for _, clause in clauses.values())


def _search_value(text: str) -> Any:
    try:
        # A number that reads as JSON but that no event can hold (see model.py) is refused,
        # as the WebSocket's `filter.data` refuses it, rather than searched for as a string.
        msgspec.json.decode(text)
    except msgspec.ValidationError:
        raise ValueError(OUT_OF_RANGE) from None
    except (msgspec.DecodeError, RecursionError):
        pass  # not JSON: parse_value reads it as a string
    try:
        return parse_value(text)
    except RecursionError:
        raise ValueError("a value nested too deeply") from None


def single_values(
    request: web.Request, known: set[str], *, prefix: str | None = None
) -> dict[str, str]:
    """Return the query parameters by their canonical names; refuse unknown and repeated ones.

    Names that begin with `prefix` are known too (the `data.` of a field-value search)."""
    check_encoding(request)
    params: dict[str, str] = {}
    for name, value in request.query.items():
        if name not in known and not (prefix is not None and name.startswith(prefix)):
            names = sorted(known) + ([f"{prefix}<path>"] if prefix is not None else [])
            raise BadParameter(f"unknown parameter; known: {', '.join(names)}", field=name)
        canonical = _ALIASES.get(name, name)
        if canonical in params:
            raise BadParameter("given more than once", field=name)
        params[canonical] = value
    return params


def check_encoding(request: web.Request) -> None:
    """Refuse a query string whose parameters are not UTF-8 once percent-decoded."""
    raw = request.rel_url.raw_query_string
    if raw.isascii() and "%" not in raw:
        return
    # yarl turns such bytes into U+FFFD silently; a filter on that text would match nothing.
    for part in raw.split("&"):
        name, _, value = part.partition("=")
        try:
            for text in (name, value):
                unquote_to_bytes(text.replace("+", " ")).decode()
        except UnicodeError:
            field = unquote(name.replace("+", " "), errors="replace")
            raise BadParameter("is not valid UTF-8 once percent-decoded", field=field) from None


def time_param(params: dict[str, str], name: str, naive_tz: tzinfo | None) -> int | None:
    """Return the timestamp parameter `name` (RFC 3339 or epoch seconds), or None."""
    text = params.get(name)
    if text is None:
        return None
    try:
        if _NUMBER.fullmatch(text):
            return parse_timestamp(_epoch_seconds(text), naive_tz)
        return parse_timestamp(_SPACED_OFFSET.sub(r"\1+\2", text), naive_tz)
    except TimeError as exc:
        raise BadParameter(str(exc), field=name) from None


def _epoch_seconds(text: str) -> int | float:
    whole, dot, _ = text.lstrip("-").partition(".")
    if len(whole.lstrip("0")) > _EPOCH_DIGITS:
        raise TimeError("out of range: years 1 to 9999 are supported")
    return float(text) if dot else int(text)


def int_param(text: str, field: str, low: int, high: int) -> int:
    """Return `text` as an integer from `low` to `high`, or raise `BadParameter` naming `field`."""
    digits = text.lstrip("0") if text.isascii() and text.isdigit() else None
    # Checked by length first: int() of more than 4,300 digits raises.
    if digits is None or len(digits) > len(str(high)) or not low <= int(text) <= high:
        raise BadParameter(f"must be an integer from {low} to {high}", field=field)
    return int(text)


def _text(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    if value == "":
        raise BadParameter("must not be empty", field=name)
    return value


def limit_param(params: dict[str, str], limits: Limits, default: int | None = None) -> int:
    """Return the `limit` parameter: a page size up to `limits.max_page_size`."""
    text = params.get("limit", str(limits.default_page_size if default is None else default))
    return int_param(text, "limit", 1, limits.max_page_size)
