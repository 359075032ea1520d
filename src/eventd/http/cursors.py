"""Opaque listing cursors: a small JSON body signed with the store's secret, URL-safe.

A cursor is signed with the store's own secret (`Engine.cursor_secret`), so only the store
that made it (any daemon on it) accepts it, and its contents need no trust beyond that. Each
listing (events, reminders) puts its own position and a fingerprint of its filters in the body.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from eventd.errors import BadParameter

CHECK_BYTES = 16
MAX_TOKEN = 512  # a cursor of ours is under 120 characters


def fingerprint(*filters: object) -> str:
    """Return a short digest of the filters a cursor is valid for."""
    text = "|".join(str(value) for value in filters).encode()
    return hashlib.blake2b(text, digest_size=6).hexdigest()


def sign(body: bytes, secret: bytes) -> str:
    """Return `body` signed with `secret`, as a cursor token."""
    return base64.urlsafe_b64encode(body + _check(body, secret)).rstrip(b"=").decode()


def verified(token: str, secret: bytes) -> bytes:
    """Return the body of `token` if the store's secret signed it, else raise `BadParameter`."""
    if len(token) > MAX_TOKEN or not token.isascii():
        raise invalid()
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise invalid() from None
    body, check = raw[:-CHECK_BYTES], raw[-CHECK_BYTES:]
    if len(raw) <= CHECK_BYTES or not hmac.compare_digest(_check(body, secret), check):
        raise invalid()
    return body


def invalid() -> BadParameter:
    """Return the error for a token that is not one of ours."""
    return BadParameter("is not a valid cursor", field="cursor")


def _check(body: bytes, secret: bytes) -> bytes:
    return hmac.digest(secret, body, "blake2b")[:CHECK_BYTES]
