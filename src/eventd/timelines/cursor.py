"""Opaque cursors of `GET /timelines`: the last key of a page, bound to the listing's field,
mode and times, and signed as every listing's cursors are (see `http.cursors`)."""

from __future__ import annotations

import msgspec

from eventd.errors import BadParameter
from eventd.http.cursors import fingerprint as digest
from eventd.http.cursors import invalid, sign, verified

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
