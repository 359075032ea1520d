"""Opaque keyset cursors: a position in the `(ts, seq)` order, bound to the query's filters."""

from __future__ import annotations

import base64
import binascii
import hashlib

import msgspec

from eventd.errors import BadParameter
from eventd.store.base import Position, Query

_VERSION = 1
_KEY = b"eventd.cursor.v1"


def fingerprint(query: Query) -> str:
    """Return a short digest of the filters a cursor is valid for (not the order)."""
    text = f"{query.start}|{query.end}|{query.type}|{query.key}".encode()
    return hashlib.blake2b(text, digest_size=6).hexdigest()


def encode(position: Position, query: Query) -> str:
    """Return the cursor that continues `query` after `position`."""
    body = msgspec.json.encode([_VERSION, position[0], position[1], fingerprint(query)])
    check = hashlib.blake2b(body, key=_KEY, digest_size=6).digest()
    return base64.urlsafe_b64encode(body + check).rstrip(b"=").decode()


def decode(token: str, query: Query) -> Position:
    """Return the position in `token`, or raise `BadParameter` if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise BadParameter("is not a valid cursor", field="cursor") from None
    body, check = raw[:-6], raw[-6:]
    if len(raw) <= 6 or hashlib.blake2b(body, key=_KEY, digest_size=6).digest() != check:
        raise BadParameter("is not a valid cursor", field="cursor")
    version, ts, seq, digest = msgspec.json.decode(body, type=tuple[int, int, int, str])
    if version != _VERSION:
        raise BadParameter("was made by another version of eventd", field="cursor")
    if digest != fingerprint(query):
        raise BadParameter(
            "belongs to a listing with other filters (start, end, type, key)", field="cursor"
        )
    return (ts, seq)
