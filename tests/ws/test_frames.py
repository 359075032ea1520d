"""eventd frames live changes itself: the bytes must equal aiohttp's own framing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from aiohttp import WSMsgType
from aiohttp._websocket.writer import WebSocketWriter

from eventd.ws.frames import text_frame


class Recorder:
    """A transport that keeps what is written."""

    def __init__(self) -> None:
        self.written = bytearray()

    def write(self, data: bytes) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return False


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65_535, 65_536, 200_000])
async def test_text_frame_matches_aiohttp(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    recorder = Recorder()
    protocol = SimpleNamespace(_paused=False)  # never paused: the recorder takes everything
    writer = WebSocketWriter(protocol, recorder, limit=1 << 30)  # type: ignore[arg-type]
    await writer.send_frame(payload, WSMsgType.TEXT)
    assert text_frame(payload) == bytes(recorder.written)
