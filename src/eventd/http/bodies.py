"""Request bodies: JSON objects, JSON arrays and NDJSON into `EventIn`, errors naming the field."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from msgspec import Raw

from eventd import nesting
from eventd.errors import InvalidField, MalformedBody, TooLarge
from eventd.model import EventIn
from eventd.pacing import Work, paced

_one = msgspec.json.Decoder(EventIn)
_one_or_many = msgspec.json.Decoder(EventIn | list[EventIn])
_many = msgspec.json.Decoder(list[EventIn])
_raw_items = msgspec.json.Decoder(list[Raw])
# Bytes of a large body decoded per step: a few milliseconds of work (issue 20).
SLICE_BYTES = 1 << 17
_TRUNCATED = "Input data was truncated"
_BLANK = re.compile(rb"[ \t\r\n]*")  # JSON's whitespace
# "Expected `str`, got `int` - at `$[1].type`" -> reason, path
_ERROR = re.compile(r"(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?", re.DOTALL)
_INDEX = re.compile(r"\[(\d+)\]")
_UNKNOWN = re.compile(r"Object contains unknown field `(?P<name>[^`]*)`")
_BYTE = re.compile(r"\(byte (\d+)\)")
# What msgspec says of a high surrogate escape that no low one follows (it names the other
# lone ones itself), and that escape.
_SURROGATE_HINT = re.compile(r"^Input data was truncated$|unexpected end of hex escape")
_LONE_SURROGATE = re.compile(rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])")


def parse_event(body: bytes, *, max_depth: int) -> EventIn:
    """Decode one event object (PUT, PATCH); `data` deeper than `max_depth` is refused."""
    _require(body)
    try:
        return _one.decode(body)
    except msgspec.ValidationError as exc:
        raise _invalid(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise _malformed(str(exc), body) from None
    except RecursionError:
        raise _too_deep(max_depth, _first_nesting(_nesting, body)) from None


async def parse_events(
    body: bytes, *, ndjson: bool, max_batch: int, max_depth: int
) -> tuple[list[EventIn], bool]:
    """Decode a POST body: return the events and whether it was a batch (array or NDJSON).

    A large body is decoded in slices, yielding to the loop between them; it is refused, or
    not, exactly as if it were decoded at once.
    """
    _require(body)
    decoded = await paced(_decoded(body, ndjson, max_depth))
    items, batch = (decoded, True) if isinstance(decoded, list) else ([decoded], False)
    if len(items) > max_batch:
        raise TooLarge(f"{len(items)} events in one request; at most {max_batch} allowed")
    return items, batch


def _decoded(body: bytes, ndjson: bool, max_depth: int) -> Work[EventIn | list[EventIn]]:
    """Decode a POST body, a slice at a time when it is large."""
    if len(body) > SLICE_BYTES:
        if ndjson:
            return (yield from _ndjson_slices(body, max_depth))
        blank = _BLANK.match(body)
        first = blank.end() if blank else 0
        if body[first : first + 1] == b"[":
            sliced = yield from _array_slices(body)
            if sliced is not None:
                return sliced
    return _decoded_at_once(body, ndjson, max_depth)


def _decoded_at_once(body: bytes, ndjson: bool, max_depth: int) -> EventIn | list[EventIn]:
    try:
        return _one.decode_lines(body) if ndjson else _one_or_many.decode(body)
    except msgspec.ValidationError as exc:
        error = _invalid(str(exc))
        if ndjson and error.index is not None:
            error.message += f" (line {_line_of_record(body, error.index)})"
        raise error from None
    except msgspec.DecodeError as exc:
        raise _malformed(str(exc), body) from None
    except RecursionError:
        raise _deep_batch(body, ndjson, max_depth) from None


def _ndjson_slices(body: bytes, max_depth: int) -> Work[list[EventIn]]:
    """Decode NDJSON a slice of whole lines at a time.

    The decoder reads a stream of JSON values, which may span lines: a slice that ends inside
    one is taken again with more lines, so that the result and any error are the same as
    the whole body's.
    """
    view = memoryview(body)
    items: list[EventIn] = []
    start, size = 0, SLICE_BYTES
    while start < len(body):
        newline = body.find(b"\n", start + size)
        end = len(body) if newline < 0 else newline + 1
        try:
            items += _one.decode_lines(view[start:end])
        except msgspec.ValidationError as exc:
            error = _invalid(str(exc))
            if error.index is not None:
                error.index += len(items)
                error.message += f" (line {_line_of_record(body, error.index)})"
            raise error from None
        except msgspec.DecodeError as exc:
            if str(exc) == _TRUNCATED and end < len(body):
                size *= 2  # a value goes on past the slice: take it again with more lines
                continue
            raise _malformed(_shifted(str(exc), start), body) from None
        except RecursionError:
            raise _deep_batch(body, True, max_depth) from None
        start, size = end, SLICE_BYTES
        yield
    return items


def _array_slices(body: bytes) -> Work[list[EventIn] | None]:
    """Decode a JSON array a slice of items at a time; None when the body has an error,
    which the whole body's decoding then names as it always did."""
    try:
        raws = _raw_items.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    yield
    items: list[EventIn] = []
    part: list[Raw] = []
    size = 0
    for index, raw in enumerate(raws):
        part.append(raw)
        size += len(raw)
        if size < SLICE_BYTES and index < len(raws) - 1:
            continue
        try:
            items += _many.decode(b"[" + b",".join(part) + b"]")
        except msgspec.ValidationError as exc:
            error = _invalid(str(exc))
            if error.index is None:
                return None
            error.index += len(items)
            raise error from None
        except (msgspec.DecodeError, RecursionError):
            return None
        part, size = [], 0
        yield
    return items


def _shifted(text: str, offset: int) -> str:
    """Return a decoder's message about a slice with its byte positions in the whole body."""
    return _BYTE.sub(lambda at: f"(byte {int(at[1]) + offset})", text)


def _require(body: bytes) -> None:
    if not body or body.isspace():
        raise MalformedBody("the request body is empty; send a JSON event")
    # msgspec keeps invalid UTF-8 inside `data` as it is and fails on it in other strings:
    # check it once, here, so that no reader is ever sent bytes that are not UTF-8.
    if not body.isascii():
        try:
            body.decode()
        except UnicodeDecodeError as exc:
            line = body.count(b"\n", 0, exc.start) + 1
            raise MalformedBody(
                f"the body is not valid UTF-8: {exc.reason} at byte {exc.start}, line {line}"
            ) from None


def _invalid(text: str) -> InvalidField:
    match = _ERROR.fullmatch(text)
    reason = match["reason"] if match else text
    path = (match["path"] if match else None) or ""
    index = None
    if (lead := _INDEX.match(path)) is not None:
        index, path = int(lead[1]), path[lead.end() :]
    field = path.lstrip(".") or None
    if (unknown := _UNKNOWN.match(reason)) is not None:
        field = unknown["name"]
        reason = "unknown field"
    elif field is None:
        reason = reason.replace("`object | array`", "a JSON object or array")
    return InvalidField(reason[:1].lower() + reason[1:], field=field, index=index)


def _malformed(text: str, body: bytes) -> MalformedBody:
    message = text.replace("JSON is malformed: ", "malformed JSON: ")
    # msgspec calls a lone surrogate escape ("\ud800" alone) truncated input or a short hex
    # escape: say what it is.
    if _SURROGATE_HINT.search(message) and (lone := _LONE_SURROGATE.search(body)):
        message = (
            f"malformed JSON: lone UTF-16 surrogate escape {lone[0].decode()} (byte {lone.start()})"
        )
    elif message == _TRUNCATED:
        # msgspec gives no position here: the body (or its last line) ends inside a value.
        end = len(body.rstrip())
        message = f"malformed JSON: input data was truncated: the body ends (byte {end})"
    if (at := _BYTE.search(message)) is not None:
        line = body.count(b"\n", 0, int(at[1])) + 1
        message += f", line {line}"
    return MalformedBody(message)


class _Nesting(msgspec.Struct):
    """The fields that may nest: decoding fails, naming the field, at the first that does."""

    data: str | int | float | bool | None = None
    payload: str | int | float | bool | None = None


_nesting = msgspec.json.Decoder(_Nesting)


def _too_deep(max_depth: int, field: str, index: int | None = None) -> InvalidField:
    return InvalidField(f"is nested deeper than {max_depth} levels", field=field, index=index)


def _first_nesting(decoder: msgspec.json.Decoder[Any], text: bytes) -> str:
    try:
        decoder.decode(text)
    except msgspec.ValidationError as exc:
        if (field := _invalid(str(exc)).field) in ("payload", "data"):
            return field
    except msgspec.DecodeError:
        return "data"  # cut short (an unclosed body): the field is the usual one
    return "data"


def _deep_batch(body: bytes, ndjson: bool, max_depth: int) -> InvalidField:
    """Locate the first event of a batch whose data the decoder gave up on."""
    if ndjson:
        records = [line for line in body.split(b"\n") if line.strip()]
        for index, record in enumerate(records):
            if nesting.deeper_than(record, max_depth + 1):
                error = _too_deep(max_depth, _first_nesting(_nesting, record), index)
                error.message += f" (line {_line_of_record(body, index)})"
                return error
        return _too_deep(max_depth, "data")
    # The event's object is one more level than its data.
    if (
        not body.lstrip().startswith(b"[")
        or (item := nesting.first_deeper_item(body, max_depth + 1)) is None
    ):
        return _too_deep(max_depth, _first_nesting(_nesting, body))
    # Items before it are skipped as raw JSON; it is decoded into `_Nesting`.
    probe = msgspec.json.Decoder(tuple[(*(Raw,) * item, _Nesting)])  # type: ignore[misc]
    return _too_deep(max_depth, _first_nesting(probe, body), item)


def _line_of_record(body: bytes, record: int) -> int:
    """Return the 1-based line of the `record`-th non-blank line of NDJSON."""
    seen = -1
    for number, line in enumerate(body.split(b"\n"), start=1):
        if line.strip():
            seen += 1
            if seen == record:
                return number
    return number
