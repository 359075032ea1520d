"""WebSocket frames written straight to the transport, past aiohttp's writer."""

from __future__ import annotations

import asyncio
import struct

# Direct writes stop while this much is buffered for the socket (the writer task takes over).
DIRECT_WRITE_LIMIT = 64 * 1024


def text_frame(payload: bytes) -> bytes:
    """Return `payload` as one unmasked, uncompressed WebSocket text frame (RFC 6455 5.2)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def keeps_up(transport: asyncio.WriteTransport) -> bool:
    """Tell whether the kernel takes what is written to `transport` as fast as it comes."""
    return not transport.is_closing() and transport.get_write_buffer_size() < DIRECT_WRITE_LIMIT


def write_text(transport: asyncio.WriteTransport, payload: bytes) -> None:
    """Write `payload` as a text frame now, without waiting for the socket to drain."""
    transport.write(text_frame(payload))
