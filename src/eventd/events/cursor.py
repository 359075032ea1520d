"""Opaque keyset cursors of event listings: a position in the `(ts, seq)` order, bound to the
query's filters and signed as every listing's cursors are (see `http.cursors`)."""

from __future__ import annotations

import msgspec

from eventd.errors import BadParameter
from eventd.fields import canonical
from eventd.http.cursors import fingerprint as digest
from eventd.http.cursors import invalid, sign, verified
from eventd.store.base import Position, Query
from eventd.times import MAX_US, MIN_US

_VERSION = 2
_MAX_SEQ = 1 << 63  # seqs are 64-bit integers on every engine
_Body = tuple[int, int, int, str]
_decode_body = msgspec.json.Decoder(_Body).decode


def fingerprint(query: Query) -> str:
    """Return a short digest of the filters a cursor is valid for (not the order)."""
    if not query.where:  # as before field-value search: earlier cursors stay valid
        return digest(query.start, query.end, query.type, query.key)
    where = sorted((path.key, canonical(value)) for path, value in query.where)
    return digest(query.start, query.end, query.type, query.key, msgspec.json.encode(where))


def encode(position: Position, query: Query, secret: bytes) -> str:
    """Return the cursor that continues `query` after `position`, signed with `secret`."""
    body = msgspec.json.encode([_VERSION, position[0], position[1], fingerprint(query)])
    return sign(body, secret)


def decode(token: str, query: Query, secret: bytes) -> Position:
    """Return the position in `token`, or raise `BadParameter` if it is not one of ours."""
    body = verified(token, secret)
    try:
        version, ts, seq, digest_ = _decode_body(body)
    except (msgspec.DecodeError, OverflowError):
        raise invalid() from None
    if version != _VERSION:
        raise BadParameter("was made by another version of eventd", field="cursor")
    if not (MIN_US <= ts <= MAX_US and 0 <= seq < _MAX_SEQ):
        raise invalid()
    if digest_ != fingerprint(query):
        raise BadParameter(
            "belongs to a listing with other filters (start, end, type, key, data.)",
            field="cursor",
        )
    return (ts, seq)


def beside(position: Position, query: Query) -> Position:
    """Return the position just past `position` in `query`'s order.

    A page back from it, in the other order, then begins with the event at `position`: what
    an empty page (its events deleted meanwhile) gives to page back from where it was asked.
    """
    ts, seq = position
    if query.order == "asc":
        if seq < _MAX_SEQ - 1:
            return (ts, seq + 1)
        return (ts + 1, 0) if ts < MAX_US else position
    if seq > 0:
        return (ts, seq - 1)
    return (ts - 1, _MAX_SEQ - 1) if ts > MIN_US else position
