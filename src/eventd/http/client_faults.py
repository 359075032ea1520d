"""Requests aiohttp cannot parse are client faults: one DEBUG line each, without traceback.

aiohttp answers them 400 itself and logs each as "Error handling request", an ERROR with a
traceback; on a port open to the internet that is most of the log, and hides real faults.
"""

from __future__ import annotations

import logging
import re

from aiohttp.http_exceptions import HttpProcessingError

# The logger aiohttp's server protocol reports a request it could not handle to.
SERVER_LOGGER = "aiohttp.server"
# Enough of aiohttp's message to tell the fault, not the client's whole line.
MESSAGE_CHARS = 200
# What aiohttp quotes of the client's bytes (`b'Authorization: Bearer ...'`), and the lines
# after its reason that show them: they may hold a secret, a token or a query string.
_QUOTED = re.compile(r"""b?(['"]).*?\1|b?(['"]).*""")


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
        message = reason(str(exc.message))
        record.msg = "unparseable request from %s answered %d: %s"
        record.args = (remote, exc.code or 400, message)
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info, record.exc_text = None, None
        return True


def reason(message: str) -> str:
    """Return the parser's reason for refusing a request, without the bytes it quotes."""
    first = message.strip().split("\n", 1)[0].rstrip(": ")
    return " ".join(_QUOTED.sub("...", first).split())[:MESSAGE_CHARS]


def quiet_client_faults() -> ClientFaults:
    """Install the filter on aiohttp's server logger (once) and return it."""
    logger = logging.getLogger(SERVER_LOGGER)
    for present in logger.filters:
        if isinstance(present, ClientFaults):
            return present
    added = ClientFaults(logger)
    logger.addFilter(added)
    return added
