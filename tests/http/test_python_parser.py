"""A daemon on aiohttp's pure-Python HTTP parser (AIOHTTP_NO_EXTENSIONS=1), which lets through
what the C parser refuses: a path of bytes that are not UTF-8 (decoded to surrogates) and
raw control characters in a query.

Hostile requests sent by this module: 3, to a real `eventd serve`. None gets a 5xx.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.daemon import Daemon

pytestmark = pytest.mark.slow


async def exchange(port: int, target: bytes) -> tuple[int, dict[str, object]]:
    """Send GET `target` on a new connection; return the status and the JSON error body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        answer = await asyncio.wait_for(reader.read(), 20)
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    return status, json.loads(body) if b"application/json" in head else {}


async def test_a_path_that_is_not_utf8_is_a_404_naming_it_escaped(tmp_path: Path) -> None:
    daemon = Daemon(
        tmp_path, AIOHTTP_NO_EXTENSIONS="1", EVENTD_LOG_ACCESS="true", EVENTD_LOG_LEVEL="debug"
    )
    async with daemon:
        status, body = await exchange(daemon.port, b"/\xc3\xa9\xff\xfe")
        assert status == 404, body
        assert body["error"]["message"] == "no route for GET /é\\udcff\\udcfe"  # type: ignore[index]
        status, body = await exchange(daemon.port, b"/events/\xff")
        assert status == 404, body  # no such event
        # aiohttp refuses it (400) and eventd logs why, without the query it holds.
        status, _ = await exchange(daemon.port, b"/events?access_token=SECRETZZ\x01")
        assert status == 400
        assert await daemon.stop() == 0
    log = daemon.log
    assert "Traceback" not in log and " ERROR " not in log, log
    assert "GET /é\\udcff\\udcfe 404" in log, log  # the access line, escaped
    assert "answered 400: invalid request target" in log and "SECRETZZ" not in log, log
