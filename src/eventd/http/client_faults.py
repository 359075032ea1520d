"""Requests aiohttp cannot parse are client faults: one DEBUG line each, without traceback.

aiohttp answers them 400 itself and logs each as "Error handling request", an ERROR with a
traceback; on a port open to the internet that is most of the log, and hides real faults.
"""

from __future__ import annotations

import logging

from aiohttp.http_exceptions import (
    BadHttpMethod,
    BadStatusLine,
    HttpProcessingError,
    InvalidHeader,
    InvalidURLError,
    TransferEncodingError,
)

from eventd.logs import printable

# The logger aiohttp's server protocol reports a request it could not handle to.
SERVER_LOGGER = "aiohttp.server"
# Enough of aiohttp's message to tell the fault.
MESSAGE_CHARS = 200
# The exceptions whose message may be nothing but the client's bytes (the Python parser's
# InvalidURLError is the request target itself, `?access_token=` and all): a fixed text.
FIXED_REASONS: tuple[tuple[type[HttpProcessingError], str], ...] = (
    (InvalidURLError, "invalid request target"),
    (BadHttpMethod, "invalid method"),
    (BadStatusLine, "invalid request line"),
    (InvalidHeader, "invalid header"),
    (TransferEncodingError, "invalid chunked body"),
)
# aiohttp's own words for a TLS handshake sent to the plain port: worth telling as they are.
HTTPS_ON_HTTP = "Received HTTPS traffic on an HTTP port"


class ClientFaults(logging.Filter):
    """Turn aiohttp's record of an unparseable request into one DEBUG line."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__()
        self._logger = logger

    def filter(self, record: logging.LogRecord) -> bool:
        """Let other records through unchanged; rewrite a parse error, or drop it below DEBUG."""
        exc = record.exc_info[1] if record.exc_info else None
        if not isinstance(exc, HttpProcessingError):
            return True
        if not self._logger.isEnabledFor(logging.DEBUG):
            return False
        remote = record.args[0] if isinstance(record.args, tuple) and record.args else None
        message = reason(exc)
        record.msg = "unparseable request from %s answered %d: %s"
        record.args = (remote, exc.code or 400, message)
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
        return True


def reason(exc: HttpProcessingError) -> str:
    """Return why the parser refused a request, in its words or ours, never the client's."""
    message = str(exc.message)
    if message == HTTPS_ON_HTTP:
        return message
    for kind, text in FIXED_REASONS:
        if isinstance(exc, kind):
            return text
    # The others are aiohttp's or llhttp's sentences, any bytes they quote after a colon
    # ("Invalid header value char:\n\n  b'Authorization: Bearer ...'").
    words = " ".join(message.partition(":")[0].split())
    return printable(words)[:MESSAGE_CHARS] or type(exc).__name__


def quiet_client_faults() -> ClientFaults:
    """Install the filter on aiohttp's server logger (once) and return it."""
    logger = logging.getLogger(SERVER_LOGGER)
    for present in logger.filters:
        if isinstance(present, ClientFaults):
            return present
    added = ClientFaults(logger)
    logger.addFilter(added)
    return added
