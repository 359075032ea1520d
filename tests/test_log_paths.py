"""A request's path in the log: raw and one line, never a forged line of the client's making.

Hostile requests sent by this module: 2 to a real `eventd serve` (a path carrying a forged
log line, with a body too slow and with one too large), 3 to an app in-process (the same
path, failing three ways in a handler). None gets a 5xx but the handler's own fault.
"""

from __future__ import annotations

import asyncio
import io
import logging
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from yarl import URL

from eventd import logs
from eventd.http.middlewares import errors
from eventd.store.base import StorageError
from tests.daemon import Daemon

# `%0a` decodes to a line break: a log writing the decoded path writes the client's line.
FORGED_LINE = "2026-11-28 19:00:00,000 ERROR eventd.app: FORGED"
FORGED_PATH = "/events/x%0a" + FORGED_LINE.replace(" ", "%20")


def path_of(raw: str, method: str = "GET") -> str:
    """Return how the log shows the path of a request for the raw target `raw`."""
    request = make_mocked_request(method, "/")
    if method == "CONNECT":  # aiohttp's parsers make the authority the whole URL
        url = URL.build(authority=raw, encoded=True)
    else:
        path, _, query = raw.partition("?")
        url = URL.build(path=path, query_string=query, encoded=True)
    return logs.request_path(request.clone(rel_url=url))


@pytest.mark.parametrize(
    ("raw", "logged"),
    [
        ("/events", "/events"),
        ("/events?access_token=SECRET", "/events?..."),
        ("/events;token=SECRET", "/events;..."),
        ("/events;token=SECRET?a=1", "/events;...?..."),
        (FORGED_PATH, FORGED_PATH),  # still percent-escaped
        # What the pure-Python parser lets through: raw controls, surrogates of bad UTF-8.
        ("/a\nb\x01\udcff\u2028é", "/a\\nb\\x01\\udcff\\u2028é"),
        ("/" + "a" * 300, "/" + "a" * 199 + "…"),
    ],
)
def test_a_logged_path_is_raw_printable_and_short(raw: str, logged: str) -> None:
    assert path_of(raw) == logged


def test_a_connect_request_logs_a_dash_for_its_missing_path() -> None:
    assert path_of("example.com:443", "CONNECT") == "-"


def test_text_lines_escape_what_would_break_them() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter("text", journald=False))
    logger = logging.getLogger("tests.log_paths")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("a %s", "b\r\nc\x1b[31md\u2028e\tf")
    finally:
        logger.removeHandler(handler)
    [line] = stream.getvalue().splitlines()
    assert line.endswith(r"WARNING tests.log_paths: a b\r\nc\x1b[31md\u2028e\tf"), line


async def fails(request: web.Request) -> web.StreamResponse:
    kind = request.query["fail"]
    if kind == "storage":
        raise StorageError("the store went away")
    if kind == "reset":
        assert request.transport is not None
        request.transport.close()  # the client is gone
        raise ConnectionResetError("reset by peer")
    raise RuntimeError("a fault of the handler")


@pytest.mark.parametrize("kind", ["storage", "reset", "fault"])
async def test_the_error_middleware_logs_the_raw_path(
    aiohttp_client: Any, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    app = web.Application(middlewares=[errors])
    app.router.add_get(r"/{tail:[\s\S]*}", fails)  # a line break in it too
    client = await aiohttp_client(app)
    caplog.set_level(logging.DEBUG, "eventd.http.middlewares")
    try:
        await client.get(URL(f"{FORGED_PATH}?fail={kind}", encoded=True))
    except aiohttp.ClientConnectionError:
        assert kind == "reset"  # the handler closed the connection under the client
    [record] = [r for r in caplog.records if r.name == "eventd.http.middlewares"]
    assert f"GET {FORGED_PATH}?..." in record.getMessage(), record.getMessage()


async def send(port: int, head: str, body: bytes) -> bytes:
    """Send a request head and part of its body; return the status line of the answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head.encode("ascii") + body)
        return await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()


@pytest.mark.slow
async def test_a_path_cannot_forge_a_line_of_the_daemon_log(tmp_path: Path) -> None:
    daemon = Daemon(
        tmp_path,
        EVENTD_LOG_LEVEL="debug",
        EVENTD_SERVER_BODY_TIMEOUT="1",
        EVENTD_LIMITS_MAX_BODY_BYTES="1024",
    )
    async with daemon:
        head = f"PUT {FORGED_PATH} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {{}}\r\n\r\n"
        assert b" 408 " in await send(daemon.port, head.format(100), b"{")  # too slow: INFO
        assert b" 413 " in await send(daemon.port, head.format(2000), b"{")  # too large: DEBUG
        assert await daemon.stop() == 0
    lines = daemon.log.splitlines()
    assert not [line for line in lines if line.startswith(FORGED_LINE)], daemon.log
    said = [line for line in lines if "FORGED" in line]
    assert len(said) == 2 and all(f"PUT {FORGED_PATH} from" in line for line in said), said
