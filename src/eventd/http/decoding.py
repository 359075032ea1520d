"""Request bodies as sent: a Content-Encoding is undone in bounded steps, up to the size limit.

aiohttp would inflate a body in its parser, in one go and before any limit applies; the app
turns that off (`auto_decompress=False`) and bodies are inflated here instead.
"""

from __future__ import annotations

import asyncio
import zlib

from aiohttp import hdrs, web

from eventd.errors import MalformedBody, TooLarge
from eventd.keys import CONFIG

# zlib's window bits: gzip framing (16 + 15), the zlib framing of HTTP's deflate (15), and
# the raw deflate some clients send under that name (-15).
_GZIP, _ZLIB, _RAW = 31, 15, -15
_CODINGS = {"gzip": _GZIP, "x-gzip": _GZIP, "deflate": _ZLIB}
# Bytes inflated between two turns of the event loop: a few milliseconds of work.
STEP = 1 << 20


async def read_body(request: web.Request) -> bytes:
    """Return the request body, decompressed as its Content-Encoding says."""
    coding = _coding(request.headers.get(hdrs.CONTENT_ENCODING, ""))
    body = await request.read()
    if coding is None or not body:
        return body
    return await inflate(body, coding, request.app[CONFIG].limits.max_body_bytes)


def _coding(header: str) -> str | None:
    codings = [c.strip().lower() for c in header.split(",")]
    codings = [c for c in codings if c not in ("", "identity")]
    if not codings:
        return None
    if len(codings) > 1 or codings[0] not in _CODINGS:
        raise web.HTTPUnsupportedMediaType(
            text=f"Content-Encoding {header!r} is not supported; use gzip, deflate or none"
        )
    return codings[0]


async def inflate(body: bytes, coding: str, limit: int) -> bytes:
    """Inflate `body`, yielding to the loop between steps; refuse more than `limit` bytes."""
    out = bytearray()
    pending = body
    while pending:  # gzip allows several members one after the other
        wbits = _CODINGS[coding]
        if wbits == _ZLIB and not _zlib_header(pending):
            wbits = _RAW
        inflater = zlib.decompressobj(wbits)
        await _inflate_one(inflater, pending, out, coding, limit)
        pending = inflater.unused_data
        if pending and wbits != _GZIP:
            raise MalformedBody(f"the body goes on after the end of its {coding} data")
    return bytes(out)


async def _inflate_one(
    inflater: zlib._Decompress, data: bytes, out: bytearray, coding: str, limit: int
) -> None:
    while True:
        try:
            piece = inflater.decompress(data, STEP)
        except zlib.error as exc:
            raise MalformedBody(f"the body is not valid {coding} data: {exc}") from None
        out += piece
        if len(out) > limit:
            raise TooLarge(f"the body inflates to more than {limit} bytes; at most {limit} allowed")
        data = inflater.unconsumed_tail
        if inflater.eof or not (data or piece):
            break
        await asyncio.sleep(0)
    if not inflater.eof:
        raise MalformedBody(f"the {coding} data of the body is truncated")


def _zlib_header(data: bytes) -> bool:
    """Tell whether `data` starts with a zlib header (RFC 1950: deflate, checksum)."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
