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
# Compressed bytes given to zlib at a time: it copies up to this much after each member.
CHUNK = 1 << 14
# gzip members in one body: bgzip writes one per 64 KiB, so 4096 cover 256 MiB of data,
# while a body of many tiny members only costs the daemon work.
MAX_MEMBERS = 4096


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
    state = _Inflation(memoryview(body), coding, limit)
    while state.pos < len(state.body):  # gzip allows several members one after the other
        wbits = _CODINGS[coding]
        if wbits == _ZLIB and not _zlib_header(state.body[state.pos : state.pos + 2]):
            wbits = _RAW
        state.members += 1
        if state.members > MAX_MEMBERS:
            raise TooLarge(
                f"the body has more than {MAX_MEMBERS} {coding} members; "
                f"at most {MAX_MEMBERS} allowed"
            )
        await _inflate_one(zlib.decompressobj(wbits), state)
        if state.pos < len(state.body) and wbits != _GZIP:
            raise MalformedBody(f"the body goes on after the end of its {coding} data")
    return bytes(state.out)


class _Inflation:
    """Where an inflation stands: the input read so far, the output, the work since a yield."""

    __slots__ = ("body", "coding", "limit", "members", "out", "pos", "work")

    def __init__(self, body: memoryview, coding: str, limit: int) -> None:
        self.body = body
        self.coding = coding
        self.limit = limit
        self.out = bytearray()
        self.pos = 0
        self.members = 0
        self.work = 0

    async def done(self, work: int) -> None:
        """Count `work` bytes of effort; yield to the loop once a step's worth is done."""
        self.work += work
        if self.work >= STEP:
            self.work = 0
            await asyncio.sleep(0)


async def _inflate_one(inflater: zlib._Decompress, state: _Inflation) -> None:
    # The input goes in by slices: what zlib copies (its tail, the data after a member)
    # stays within one slice, so the work is in proportion to the body, whatever its members.
    while state.pos < len(state.body):
        chunk = state.body[state.pos : state.pos + CHUNK]
        await _inflate_chunk(inflater, chunk, state)
        if inflater.eof:
            state.pos += len(chunk) - len(inflater.unused_data)
            # A member costs a new inflater and a copy of the slice's rest, even when empty.
            await state.done(CHUNK)
            return
        state.pos += len(chunk)
        await state.done(len(chunk))
    raise MalformedBody(f"the {state.coding} data of the body is truncated")


async def _inflate_chunk(inflater: zlib._Decompress, chunk: memoryview, state: _Inflation) -> None:
    data: bytes | memoryview = chunk
    while True:
        try:
            piece = inflater.decompress(data, STEP)
        except zlib.error as exc:
            raise MalformedBody(f"the body is not valid {state.coding} data: {exc}") from None
        state.out += piece
        if len(state.out) > state.limit:
            limit = state.limit
            raise TooLarge(f"the body inflates to more than {limit} bytes; at most {limit} allowed")
        data = inflater.unconsumed_tail
        # No input left may still leave output inside zlib: ask again until none comes.
        if inflater.eof or not (data or piece):
            return
        await state.done(len(piece))


def _zlib_header(data: bytes | memoryview) -> bool:
    """Tell whether `data` starts with a zlib header (RFC 1950: deflate, checksum)."""
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0
