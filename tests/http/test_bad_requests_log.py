"""Requests aiohttp cannot parse: a 400 each, and one DEBUG line, never an ERROR or traceback.

Hostile connections sent by this module, 24 of 12 kinds, to a real `eventd serve`: each
kind of unparseable request below, at log level info and again at debug. None gets a 5xx.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from unittest import mock

import pytest
from aiohttp import http_parser
from aiohttp.http_exceptions import BadHttpMessage, HttpProcessingError

from eventd.http.client_faults import MESSAGE_CHARS, quiet_client_faults, reason
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


# Requests each parser refuses, every one carrying a secret somewhere in what it quotes.
SECRET = b"SECRET"
HOSTILE = {
    "control-in-query": b"GET /events?access_token=SECRETZZ\x01 HTTP/1.1\r\n" + HOST + b"\r\n",
    "connect": b"CONNECT :SECRETC@ HTTP/1.1\r\n" + HOST + b"\r\n",
    "control-in-header": b"GET / HTTP/1.1\r\n" + HOST + b"Authorization: Bearer SECRET\x01\r\n\r\n",
    "escaped-quotes": b"GET / HTTP/1.1\r\n" + HOST + b"X-A: 'a\\'SECRET\x01'\r\n\r\n",
    "quote-in-name": b"GET / HTTP/1.1\r\n" + HOST + b"X'\"SECRET: a\r\n\r\n",
    "bad-method": b"G\x01ET /SECRET HTTP/1.1\r\n" + HOST + b"\r\n",
    "bad-method-colon": b"G:SECRET /x HTTP/1.1\r\n" + HOST + b"\r\n",
    "bad-version": b"GET /?SECRET HTTP/9.9\r\n" + HOST + b"\r\n",
    "long-line": b"GET /SECRET" + b"a" * 9000 + b" HTTP/1.1\r\n" + HOST + b"\r\n",
    "bad-length": b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: SECRET\r\n\r\n",
    "non-ascii": b"GET /\xc3\xa9\xff\xfeSECRET\x01 HTTP/1.1\r\n" + HOST + b"\r\n",
    "no-host": b"GET /SECRET HTTP/1.1\r\n\r\n",
    "tls": b"\x16\x03\x01\x00SECRET\r\n\r\n",
}
PARSERS = {"python": http_parser.HttpRequestParserPy}
if http_parser.HttpRequestParserC is not http_parser.HttpRequestParserPy:  # built without C
    PARSERS["c"] = http_parser.HttpRequestParserC


async def refusal(parser_kind: str, request: bytes) -> HttpProcessingError | None:
    """Return what the parser raises for `request`, as the server's protocol would see it."""
    parser = PARSERS[parser_kind](
        mock.Mock(), asyncio.get_running_loop(), 2**16, max_line_size=8190, max_field_size=8190
    )
    try:
        parser.feed_data(request)
    except HttpProcessingError as exc:
        return exc
    return None


@pytest.mark.parametrize("parser_kind", PARSERS)
@pytest.mark.parametrize("name", HOSTILE)
async def test_the_logged_reason_leaves_out_what_the_client_sent(
    parser_kind: str, name: str
) -> None:
    # The client's bytes may hold a token or a query: only aiohttp's own words are logged.
    exc = await refusal(parser_kind, HOSTILE[name])
    if exc is None:  # this parser takes it (and the app answers it)
        assert (parser_kind, name) == ("python", "bad-version")
        return
    logged = reason(exc)
    assert "SECRET" not in logged and logged.isprintable() and logged, (exc.message, logged)


@pytest.mark.parametrize("parser_kind", PARSERS)
@pytest.mark.parametrize(
    ("name", "logged"),
    [
        ("no-host", "Missing 'Host' header in request."),  # aiohttp's words, whole
        ("tls", "Received HTTPS traffic on an HTTP port"),
        ("long-line", "Got more than 8190 bytes when reading"),
        ("connect", "invalid request target"),
    ],
)
async def test_the_logged_reason_keeps_the_words_of_aiohttp(
    parser_kind: str, name: str, logged: str
) -> None:
    exc = await refusal(parser_kind, HOSTILE[name])
    assert exc is not None and reason(exc) == logged


def test_a_reason_in_words_of_aiohttp_is_cut_before_what_it_quotes() -> None:
    exc = BadHttpMessage("Invalid header value char:\n\n  b'Authorization: Bearer s3cret\\x01'")
    assert reason(exc) == "Invalid header value char"
    cut = reason(BadHttpMessage("a\x01b" * 100))  # escaped, then cut
    assert cut.startswith("a\\x01ba\\x01b") and len(cut) == MESSAGE_CHARS
