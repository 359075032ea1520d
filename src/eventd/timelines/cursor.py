"""Opaque cursors of `GET /timelines` (the last key of a page) and of `GET /timelines/{key}`
(the position of a page's last point), bound to the field, mode and times (and the key), and
signed as every listing's cursors are (see `http.cursors`)."""

from __future__ import annotations

import msgspec

from eventd.errors import BadParameter
from eventd.http.cursors import fingerprint as digest
from eventd.http.cursors import invalid, sign, verified
from eventd.times import MAX_US, MIN_US

_VERSION = 1
_Body = tuple[int, str, str]
_decode_body = msgspec.json.Decoder(_Body).decode


def fingerprint(*filters: object) -> str:
    """Return a short digest of the filters a cursor is valid for."""
    return digest("timelines", *filters)


def encode(key: str, filters: tuple[object, ...], secret: bytes) -> str:
    """Return the cursor that continues the listing with `filters` after `key`."""
    return sign(msgspec.json.encode([_VERSION, key, fingerprint(*filters)]), secret)


def decode(token: str, filters: tuple[object, ...], secret: bytes) -> str:
    """Return the key in `token`, or raise `BadParameter` if it is not one of ours."""
    body = verified(token, secret)
    try:
        version, key, digest_ = _decode_body(body)
    except msgspec.DecodeError:
        raise invalid() from None
    if version != _VERSION:
        raise invalid()  # a cursor of another listing
    if digest_ != fingerprint(*filters):
        raise BadParameter(
            "belongs to a listing with other parameters (field, mode, start, end)", field="cursor"
        )
    last: str = key
    return last


# Cursors of `GET /timelines/{key}`: a position in the key's `(ts, seq)` order.
_POINT_VERSION = 2
_MAX_SEQ = (1 << 63) - 1  # seqs are 64-bit integers; the position after a seq is read too
_PointBody = tuple[int, int, int, str]
_decode_point_body = msgspec.json.Decoder(_PointBody).decode


def point_fingerprint(key: str, *filters: object) -> str:
    """Return a short digest of the key and filters a timeline's cursor is valid for."""
    return digest("timeline", key, *filters)


def encode_point(
    position: tuple[int, int], key: str, filters: tuple[object, ...], secret: bytes
) -> str:
    """Return the cursor that continues the timeline of `key` with `filters` after
    `position`."""
    body = [_POINT_VERSION, position[0], position[1], point_fingerprint(key, *filters)]
    return sign(msgspec.json.encode(body), secret)


def decode_point(
    token: str, key: str, filters: tuple[object, ...], secret: bytes
) -> tuple[int, int]:
    """Return the position in `token`, or raise `BadParameter` if it is not one of ours."""
    body = verified(token, secret)
    try:
        version, ts, seq, digest_ = _decode_point_body(body)
    except (msgspec.DecodeError, OverflowError):
        raise invalid() from None
    if version != _POINT_VERSION or not (MIN_US <= ts <= MAX_US and 0 <= seq < _MAX_SEQ):
        raise invalid()  # a cursor of another listing, or not a position
    if digest_ != point_fingerprint(key, *filters):
        raise BadParameter(
            "belongs to a timeline with other parameters (key, field, mode, start, end)",
            field="cursor",
        )
    return (ts, seq)
