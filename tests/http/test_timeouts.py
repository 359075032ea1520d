"""Read timeouts on real sockets: slow headers and slow bodies are cut off, never held.

Hostile connections sent by this module, 212 of 7 kinds: 1 silent; 3 with a header that
stops (here, in the WebSocket test, on a daemon); 201 sending a header a byte at a time
(1, then 200 at once); 1 left idle after a request; 3 declaring a body that never comes
(10^12 and 100,000 bytes here, 1,000 on a daemon); 2 declaring a body over the size limit
(with and without `Expect: 100-continue`); 1 slow chunked upload. None gets a 5xx.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.conftest import MakeClient, make_config
from tests.daemon import Daemon

Client = TestClient[Any, Any]
Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]

# How long a test waits for the server to close a connection: far above the timeouts set.
CLOSE_WAIT = 20.0
SHORT = {"header_timeout": 0.3, "body_timeout": 0.3, "body_min_rate": 1000}
UNFINISHED_HEADER = (
    b"POST /events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
)


class Attacker:
    """Opens raw connections and runs their senders; closes and cancels them all at the end."""

    def __init__(self) -> None:
        self.writers: list[asyncio.StreamWriter] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def connect(self, host: str, port: int) -> Stream:
        reader, writer = await asyncio.open_connection(host, port)
        self.writers.append(writer)
        return reader, writer

    def trickle(self, writer: asyncio.StreamWriter, pieces: Iterable[bytes], pace: float) -> None:
        self.tasks.append(asyncio.create_task(trickle(writer, pieces, pace)))

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for writer in self.writers:
            writer.close()


@pytest.fixture
async def attacker() -> AsyncIterator[Attacker]:
    attacker = Attacker()
    yield attacker
    await attacker.close()


async def until_closed(reader: asyncio.StreamReader, wait: float = CLOSE_WAIT) -> bytes:
    """Return all the server sends until it closes the connection (bounded by `wait`)."""
    received = bytearray()

    async def read_all() -> None:
        try:
            while chunk := await reader.read(65536):
                received.extend(chunk)
        except ConnectionResetError:
            return  # a reset closes the connection as well as a FIN does

    await asyncio.wait_for(read_all(), wait)
    return bytes(received)


async def trickle(writer: asyncio.StreamWriter, pieces: Iterable[bytes], pace: float) -> None:
    """Send `pieces` `pace` seconds apart (the attack's own rate) until the server closes."""
    for piece in pieces:
        if writer.is_closing():
            return
        writer.write(piece)
        try:
            await writer.drain()
        except ConnectionError:
            return  # the server closed the connection: what the test waits for
        await asyncio.sleep(pace)


def header_bytes() -> Iterator[bytes]:
    """An HTTP header sent a byte at a time, padded with header lines so it never ends."""
    text = itertools.chain(UNFINISHED_HEADER, itertools.cycle(b"X-Pad: 1\r\n"))
    return (bytes([byte]) for byte in text)


def status_of(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer[9:12])


def error_of(answer: bytes) -> dict[str, Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"\r\nconnection: close" in head.lower(), head
    error: dict[str, Any] = json.loads(body)["error"]
    return error


async def stored(client: Client) -> int:
    response = await client.get("/events")
    assert response.status == 200
    return len((await response.json())["events"])


@pytest.fixture
async def short(make_client: MakeClient) -> Client:
    """A client of an app whose read timeouts are a fraction of a second."""
    return await make_client(make_config(server=SHORT))


async def test_a_silent_connection_is_closed(short: Client, attacker: Attacker) -> None:
    reader, _ = await attacker.connect(short.host, short.port)
    assert await until_closed(reader) == b""


async def test_an_unfinished_header_is_closed(short: Client, attacker: Attacker) -> None:
    reader, writer = await attacker.connect(short.host, short.port)
    writer.write(UNFINISHED_HEADER)
    assert await until_closed(reader) == b""
    assert await stored(short) == 0


async def test_a_header_sent_a_byte_at_a_time_is_closed(short: Client, attacker: Attacker) -> None:
    reader, writer = await attacker.connect(short.host, short.port)
    attacker.trickle(writer, header_bytes(), pace=0.02)
    assert await until_closed(reader) == b""


async def test_an_idle_kept_alive_connection_is_closed(short: Client, attacker: Attacker) -> None:
    reader, writer = await attacker.connect(short.host, short.port)
    writer.write(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    answer = await until_closed(reader)
    assert status_of(answer) == 200
    assert b"connection: close" not in answer.lower()


@pytest.mark.parametrize("declared", [10**12, 100_000], ids=["10^12", "100000"])
async def test_a_body_that_never_comes_is_answered_408(
    short: Client, attacker: Attacker, declared: int
) -> None:
    reader, writer = await attacker.connect(short.host, short.port)
    writer.write(UNFINISHED_HEADER + f"Content-Length: {declared}\r\n\r\n".encode())
    writer.write(b'{"type": ')
    answer = await until_closed(reader)
    # A declared length above limits.max_body_bytes may be refused at once (413) instead.
    expected = (408, 413) if declared > make_config().limits.max_body_bytes else (408,)
    assert status_of(answer) in expected
    error = error_of(answer)
    assert error["status"] == status_of(answer)
    if error["status"] == 408:
        assert error["code"] == "request_timeout"
    assert await stored(short) == 0


@pytest.mark.parametrize("expect", [b"Expect: 100-continue\r\n", b""], ids=["expect", "plain"])
async def test_a_declared_body_over_the_limit_is_413_at_once(
    make_client: MakeClient, attacker: Attacker, expect: bytes
) -> None:
    # Long read timeouts: an answer before the body comes can only be the refusal.
    client = await make_client(
        make_config(limits={"max_body_bytes": 1024}, server={"body_timeout": 600})
    )
    reader, writer = await attacker.connect(client.host, client.port)
    writer.write(UNFINISHED_HEADER + expect + b"Content-Length: 2000\r\n\r\n")
    answer = await until_closed(reader)
    assert status_of(answer) == 413, answer[:200]  # no "100 Continue" first
    error = error_of(answer)
    assert (error["code"], error["field"]) == ("too_large", "Content-Length")
    assert "2000" in error["message"] and "1024" in error["message"]
    assert await stored(client) == 0


async def test_a_declared_body_within_the_limit_is_invited(
    make_client: MakeClient, attacker: Attacker
) -> None:
    client = await make_client(make_config(limits={"max_body_bytes": 1024}))
    reader, writer = await attacker.connect(client.host, client.port)
    body = b'{"type": "invited"}'
    length = f"Content-Length: {len(body)}\r\n".encode()
    writer.write(
        UNFINISHED_HEADER + b"Expect: 100-continue\r\nConnection: close\r\n" + length + b"\r\n"
    )
    assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(body)
    assert status_of(await until_closed(reader)) == 201
    assert await stored(client) == 1


async def test_a_slow_chunked_upload_is_answered_408(short: Client, attacker: Attacker) -> None:
    reader, writer = await attacker.connect(short.host, short.port)
    writer.write(UNFINISHED_HEADER + b"Transfer-Encoding: chunked\r\n\r\n1\r\n[\r\n")
    attacker.trickle(writer, itertools.repeat(b"1\r\n \r\n"), pace=0.02)
    answer = await until_closed(reader)
    assert status_of(answer) == 408
    assert error_of(answer)["code"] == "request_timeout"
    assert await stored(short) == 0


async def test_a_steady_body_slower_than_the_timeout_is_accepted(
    short: Client, attacker: Attacker
) -> None:
    """A body that takes longer than body_timeout at a good rate is not cut off."""
    body = json.dumps({"type": "big", "data": "x" * 60_000}).encode()
    reader, writer = await attacker.connect(short.host, short.port)
    writer.write(
        UNFINISHED_HEADER + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
    )
    pieces = [body[i : i + 3000] for i in range(0, len(body), 3000)]
    await trickle(writer, pieces, pace=0.05)  # 60 kB/s over about a second
    answer = await until_closed(reader)
    assert status_of(answer) == 201, answer


async def test_slowloris_connections_do_not_block_health_and_are_all_closed(
    make_client: MakeClient, attacker: Attacker
) -> None:
    client = await make_client(make_config(server={"header_timeout": 5.0}))
    streams = await asyncio.gather(
        *(attacker.connect(client.host, client.port) for _ in range(200))
    )
    for _, writer in streams:
        attacker.trickle(writer, header_bytes(), pace=0.5)
    response = await client.get("/health")
    assert response.status == 200
    assert (await response.json())["status"] == "ok"
    answers = await asyncio.gather(*(until_closed(reader, 60.0) for reader, _ in streams))
    assert answers == [b""] * 200
    assert (await client.get("/health")).status == 200


async def test_a_websocket_outlives_the_header_timeout(short: Client, attacker: Attacker) -> None:
    ws = await short.ws_connect("/ws")
    assert (await ws.receive_json(timeout=5))["type"] == "welcome"
    # Wait for proof that a header timeout has passed: another connection closed by it.
    reader, writer = await attacker.connect(short.host, short.port)
    writer.write(UNFINISHED_HEADER)
    assert await until_closed(reader) == b""
    await ws.send_json({"type": "ping", "id": 1})
    assert await ws.receive_json(timeout=5) == {"type": "pong", "id": 1}
    await ws.close()


@pytest.mark.slow
async def test_eventd_serve_applies_the_read_timeouts(tmp_path: Path, attacker: Attacker) -> None:
    env = {f"EVENTD_SERVER_{key.upper()}": str(value) for key, value in SHORT.items()}
    async with Daemon(tmp_path, **env) as daemon:
        reader, writer = await attacker.connect("127.0.0.1", daemon.port)
        writer.write(UNFINISHED_HEADER)
        assert await until_closed(reader) == b""
        reader, writer = await attacker.connect("127.0.0.1", daemon.port)
        writer.write(UNFINISHED_HEADER + b"Content-Length: 1000\r\n\r\n{")
        answer = await until_closed(reader)
        assert status_of(answer) == 408
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{daemon.base}/events") as response,
        ):
            assert (await response.json())["events"] == []
        assert await daemon.stop() == 0
        assert "Traceback" not in daemon.log
