"""Opaque cursors of reminder listings: a place in due order `(due, event_id, offset)`, bound
to the listing's filters and signed as every listing's cursors are (see `http.cursors`)."""

from __future__ import annotations

import msgspec

from eventd.errors import BadParameter
from eventd.http.cursors import fingerprint as digest
from eventd.http.cursors import invalid, sign, verified
from eventd.store.base import ReminderPosition, ReminderQuery
from eventd.times import MAX_US, MIN_US

_VERSION = 1
_Body = tuple[int, int, str, int, str]
_decode_body = msgspec.json.Decoder(_Body).decode


def fingerprint(query: ReminderQuery) -> str:
    """Return a short digest of the filters a cursor is valid for."""
    return digest("reminders", query.state, query.start, query.end, query.type, query.key)


def encode(position: ReminderPosition, query: ReminderQuery, secret: bytes) -> str:
    """Return the cursor that continues `query` after `position`, signed with `secret`."""
    due, event_id, offset = position
    body = msgspec.json.encode([_VERSION, due, event_id, offset, fingerprint(query)])
    return sign(body, secret)


def decode(token: str, query: ReminderQuery, secret: bytes) -> ReminderPosition:
    """Return the position in `token`, or raise `BadParameter` if it is not one of ours."""
    body = verified(token, secret)
    try:
        version, due, event_id, offset, digest_ = _decode_body(body)
    except (msgspec.DecodeError, OverflowError):
        raise invalid() from None
    if version != _VERSION:
        raise invalid()  # an events cursor, or one of another version
    if not (MIN_US <= due <= MAX_US and offset > 0):
        raise invalid()
    if digest_ != fingerprint(query):
        raise BadParameter(
            "belongs to a listing with other filters (start, end, type, key, state)",
            field="cursor",
        )
    return (due, event_id, offset)
