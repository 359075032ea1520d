"""Opaque keyset cursors: a position in the `(ts, seq)` order, bound to the query's filters.

A cursor is signed with the store's own secret (`Engine.cursor_secret`), so only the store
that made it (any daemon on it) accepts it, and its contents need no trust beyond that.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import msgspec

from eventd.errors import BadParameter
from eventd.store.base import Position, Query
from eventd.times import MAX_US, MIN_US

_VERSION = 2
_CHECK_BYTES = 16
_MAX_TOKEN = 512  # a cursor of ours is under 100 characters
_MAX_SEQ = 1 << 63  # seqs are 64-bit integers on every engine
_Body = tuple[int, int, int, str]
_decode_body = msgspec.json.Decoder(_Body).decode


def fingerprint(query: Query) -> str:
    """Return a short digest of the filters a cursor is valid for (not the order)."""
    text = f"{query.start}|{query.end}|{query.type}|{query.key}".encode()
    return hashlib.blake2b(text, digest_size=6).hexdigest()


def encode(position: Position, query: Query, secret: bytes) -> str:
    """Return the cursor that continues `query` after `position`, signed with `secret`."""
    body = msgspec.json.encode([_VERSION, position[0], position[1], fingerprint(query)])
    return base64.urlsafe_b64encode(body + _check(body, secret)).rstrip(b"=").decode()


def decode(token: str, query: Query, secret: bytes) -> Position:
    """Return the position in `token`, or raise `BadParameter` if it is not one of ours."""
    body = _verified(token, secret)
    try:
        version, ts, seq, digest = _decode_body(body)
    except (msgspec.DecodeError, OverflowError):
        raise BadParameter("is not a valid cursor", field="cursor") from None
    if version != _VERSION:
        raise BadParameter("was made by another version of eventd", field="cursor")
    if not (MIN_US <= ts <= MAX_US and 0 <= seq < _MAX_SEQ):
        raise BadParameter("is not a valid cursor", field="cursor")
    if digest != fingerprint(query):
        raise BadParameter(
            "belongs to a listing with other filters (start, end, type, key)", field="cursor"
        )
    return (ts, seq)


def _verified(token: str, secret: bytes) -> bytes:
    """Return the body of `token` if the store's secret signed it."""
    if len(token) > _MAX_TOKEN or not token.isascii():
        raise BadParameter("is not a valid cursor", field="cursor")
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise BadParameter("is not a valid cursor", field="cursor") from None
    body, check = raw[:-_CHECK_BYTES], raw[-_CHECK_BYTES:]
    if len(raw) <= _CHECK_BYTES or not hmac.compare_digest(_check(body, secret), check):
        raise BadParameter("is not a valid cursor", field="cursor")
    return body


def _check(body: bytes, secret: bytes) -> bytes:
    return hmac.digest(secret, body, "blake2b")[:_CHECK_BYTES]
