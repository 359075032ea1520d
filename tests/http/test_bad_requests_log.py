"""Requests aiohttp cannot parse: a 400 each, and one DEBUG line, never an ERROR or traceback.

Hostile connections sent by this module, 24 of 12 kinds, to a real `eventd serve`: each
kind of unparseable request below, at log level info and again at debug. None gets a 5xx.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from eventd.http.client_faults import quiet_client_faults, reason
from tests.daemon import Daemon

HOST = b"Host: localhost\r\n"
BAD = {
    "nul-in-header": b"GET /health HTTP/1.1\r\n" + HOST + b"X-A: a\0b\r\n\r\n",
    "nul-in-path": b"GET /he\0alth HTTP/1.1\r\n" + HOST + b"\r\n",
    "non-ascii-path": b"GET /\xff\xfe HTTP/1.1\r\n" + HOST + b"\r\n",
    "http-9.9": b"GET /health HTTP/9.9\r\n" + HOST + b"\r\n",
    "http2-preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    "no-host": b"GET /health HTTP/1.1\r\n\r\n",
    "two-hosts": b"GET /health HTTP/1.1\r\n" + HOST + HOST + b"\r\n",
    "too-many-headers": b"GET /health HTTP/1.1\r\n" + HOST + b"X-A: 1\r\n" * 200 + b"\r\n",
    "long-header": b"GET /health HTTP/1.1\r\n" + HOST + b"X-A: " + b"a" * 9000 + b"\r\n\r\n",
    "long-path": b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n" + HOST + b"\r\n",
    "bad-content-length": b"POST /events HTTP/1.1\r\n" + HOST + b"Content-Length: x\r\n\r\n",
    "space-in-header-name": b"GET /health HTTP/1.1\r\n" + HOST + b"X A: 1\r\n\r\n",
}


async def status_of(port: int, request: bytes) -> bytes:
    """Send `request` on a new connection; return the status line of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        return await asyncio.wait_for(reader.readline(), 20)
    finally:
        writer.close()


@pytest.mark.slow
@pytest.mark.parametrize("level", ["info", "debug"])
async def test_unparseable_requests_are_400_without_error_or_traceback(
    tmp_path: Path, level: str
) -> None:
    async with Daemon(tmp_path, EVENTD_LOG_LEVEL=level) as daemon:
        for name, request in BAD.items():
            status = await status_of(daemon.port, request)
            assert status.split(b" ")[1] == b"400", (name, status)
        assert await daemon.stop() == 0
    log = daemon.log
    assert " ERROR " not in log and "Traceback" not in log, log
    if level == "debug":
        faults = [line for line in log.splitlines() if "unparseable request" in line]
        assert len(faults) == len(BAD), log
        assert all(" DEBUG aiohttp.server: " in line for line in faults), faults


def record(exc: BaseException) -> logging.LogRecord:
    return logging.LogRecord(
        "aiohttp.server",
        logging.ERROR,
        __file__,
        1,
        "Error handling request from %s",
        ("127.0.0.1",),
        (type(exc), exc, None),
    )


def test_a_server_fault_stays_an_error_with_its_traceback() -> None:
    entry = record(RuntimeError("a fault of the handler"))
    assert quiet_client_faults().filter(entry)
    assert entry.levelno == logging.ERROR and entry.exc_info is not None


@pytest.mark.parametrize(
    ("message", "logged"),
    [
        (
            "Invalid header value char:\n\n  b'Authorization: Bearer s3cret\\x01'\n  ^",
            "Invalid header value char",
        ),
        ("Bad status line 'GET /events?token=s3cret HTTP/9.9'", "Bad status line ..."),
        ("Duplicate Host header: b'a' and b's3cret", "Duplicate Host header: ... and ..."),
        ("Got more than 8190 bytes (9000) when reading Status line.", None),
    ],
)
def test_the_logged_reason_leaves_out_what_the_client_sent(
    message: str, logged: str | None
) -> None:
    # The client's bytes may hold a token or a query: only aiohttp's own words are logged.
    assert reason(message) == (logged or message)
