"""A subscriber that stops reading is closed with 4008; a healthy one misses nothing."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any

from eventd.keys import COUNTERS
from tests.conftest import MakeClient, make_config

HANDSHAKE = (
    "GET /ws HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    assert len(payload) < 126
    mask = b"\x01\x02\x03\x04"
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


def frames(data: bytes) -> list[tuple[int, bytes]]:
    """Parse unmasked server frames: [(opcode, payload)], stopping at a partial frame."""
    out, i = [], 0
    while i + 2 <= len(data):
        opcode, length = data[i] & 0x0F, data[i + 1] & 0x7F
        extended = {126: 2, 127: 8}.get(length, 0)
        if i + 2 + extended > len(data):
            break
        if extended:
            (length,) = struct.unpack(
                "!H" if extended == 2 else "!Q", data[i + 2 : i + 2 + extended]
            )
        i += 2 + extended
        if i + length > len(data):
            break
        out.append((opcode, data[i : i + length]))
        i += length
    return out


class StalledClient:
    """A WebSocket client on a raw socket with a tiny receive buffer that stops reading."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect((host, port))
        self.sock.sendall(HANDSHAKE.format(host=f"{host}:{port}").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(1)
        assert response.startswith(b"HTTP/1.1 101"), response
        self.sock.sendall(masked_text_frame('{"type":"subscribe","id":"s"}'))
        self.await_subscribed()

    def await_subscribed(self, timeout: float = 30) -> None:
        """Read frames up to the server's `subscribed`, and not a byte further."""
        self.sock.settimeout(timeout)
        data = b""
        while not any(
            opcode == 0x1 and json.loads(payload)["type"] == "subscribed"
            for opcode, payload in frames(data)
        ):
            chunk = self.sock.recv(1)
            assert chunk, f"closed before subscribed: {data!r}"
            data += chunk

    def read_all(self, timeout: float = 30) -> bytes:
        self.sock.settimeout(timeout)
        data = b""
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                return data
            data += chunk
            if any(opcode == 0x8 for opcode, _ in frames(data)):
                return data


async def test_stalled_subscriber_is_closed_and_others_get_everything(
    make_client: MakeClient,
) -> None:
    client = await make_client(make_config(feed={"send_queue": 100}))
    healthy = await client.ws_connect("/ws")
    await healthy.receive_json()
    await healthy.send_json({"type": "subscribe", "id": "h"})
    assert (await healthy.receive_json())["type"] == "subscribed"
    stalled = await asyncio.to_thread(StalledClient, client.host, client.port)
    try:
        await check_stall(client, healthy, stalled)
    finally:
        stalled.sock.close()


async def check_stall(client: Any, healthy: Any, stalled: StalledClient) -> None:
    total = 1000  # 8 MB: more than the kernel's socket buffers hold
    received: list[int] = []

    async def read_healthy() -> None:
        while len(received) < total:
            message: dict[str, Any] = await healthy.receive_json(timeout=10)
            if message["type"] == "change":
                received.append(message["position"])

    reader = asyncio.create_task(read_healthy())
    for batch in range(total // 20):
        body = [
            {"description": "x" * 4000, "title": "y" * 4000, "id": f"e{batch}-{i}"}
            for i in range(20)
        ]
        response = await client.post("/events", json=body)
        assert response.status == 201
    await reader
    assert received == list(range(1, total + 1))

    data = await asyncio.to_thread(stalled.read_all)
    parsed = frames(data)
    changes = [json.loads(p) for op, p in parsed if op == 0x1]
    positions = [m["position"] for m in changes if m["type"] == "change"]
    [close] = [p for op, p in parsed if op == 0x8]
    code, reason = struct.unpack("!H", close[:2])[0], close[2:].decode()
    assert code == 4008
    assert positions == list(range(1, len(positions) + 1))
    assert len(positions) < total
    assert reason == f"slow consumer; last position {positions[-1]}"
    assert client.app[COUNTERS].ws_slow_closed == 1  # eventd_ws_slow_consumers_closed_total
    await healthy.send_json({"type": "ping"})
    assert (await healthy.receive_json())["type"] == "pong"
