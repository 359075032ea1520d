"""The daemon's log: text or JSON lines on stderr, journald-aware, and the access log.

`eventd serve` calls `setup(config)` once, and `DaemonLog.configure` again on SIGHUP: the
level, the format and the access log all change live (a formatter and two logger levels).

Nothing here writes a secret: the access log names a request's token, never its secret, and
leaves the query string and path parameters out (a client may put anything in them,
`?access_token=` included). Nothing a client sends breaks a line: a logged path is its raw,
percent-escaped form (`request_path`), and the text format escapes what is not printable.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse
from pythonjsonlogger.json import JsonFormatter

from eventd.access import token_name
from eventd.config import Config
from eventd.times import format_us

ACCESS_LOGGER = "eventd.access"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# journald stamps every line it reads (to the microsecond); a second time only clutters it.
JOURNAL_TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
# What a JSON line's fields are called; `time` leads, then these, then a record's extras.
JSON_FIELDS = {
    "asctime": "time",
    "levelname": "level",
    "name": "logger",
    "exc_info": "exception",
    "stack_info": "stack",
}
# syslog priorities of the levels (sd-daemon(3)): journald takes a `<N>` line prefix as the
# entry's PRIORITY, so that `journalctl -p warning` works.
PRIORITIES = ((logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))
DEBUG_PRIORITY = 7
ACCESS_OFF = logging.CRITICAL + 1
QUERY_LEFT_OUT = "?..."
PARAMETERS_LEFT_OUT = ";..."
# A logged path's length, past which it is cut (and marked): a log line stays readable.
PATH_CHARS = 200
CUT = "…"
# An access line: remote address, method, path, status, bytes, milliseconds, token name.
LINE = "%s %s %s %d %d bytes %.1f ms token %s"


def under_journald(stream: TextIO, environ: Mapping[str, str]) -> bool:
    """Tell whether `stream` is connected to the journal.

    systemd.exec(5): `JOURNAL_STREAM` holds the device and inode of the stream it connected;
    a process whose stderr was redirected since (a pipe, a file) inherits the variable
    anyway, so both are compared with the stream's own.
    """
    device, sep, inode = environ.get("JOURNAL_STREAM", "").partition(":")
    # ASCII digits only: `isdigit` alone takes '²', which `int` refuses.
    if not (sep and _number(device) and _number(inode)):
        return False
    try:
        stat = os.fstat(stream.fileno())
    except (OSError, ValueError):  # no descriptor (io.UnsupportedOperation is both)
        return False
    return (stat.st_dev, stat.st_ino) == (int(device), int(inode))


def _number(text: str) -> bool:
    return text.isascii() and text.isdecimal()


class _JsonLines(JsonFormatter):
    """One JSON object a line, its time in RFC 3339 UTC as every time eventd answers."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """Format the record's time as eventd formats times."""
        return format_us(round(record.created * 1_000_000))


class _JournalPrefix(logging.Formatter):
    """Put each line of another formatter's text behind the record's syslog priority."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        """Format with the inner formatter; prefix every line (a traceback's too)."""
        prefix = f"<{priority(record.levelno)}>"
        return prefix + self.inner.format(record).replace("\n", "\n" + prefix)


def priority(level: int) -> int:
    """Return the syslog priority of a logging level."""
    for floor, value in PRIORITIES:
        if level >= floor:
            return value
    return DEBUG_PRIORITY


class _TextLines(logging.Formatter):
    """Text lines whose message cannot break its line: controls are escaped (`\\n`)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        """Format the line before its traceback, escaping what is not printable."""
        # A traceback, appended after this, keeps its lines; a message never has two.
        return printable(super().formatMessage(record))


def printable(text: str) -> str:
    """Return `text` with every character that is not printable escaped as Python does."""
    if text.isprintable():
        return text
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in text
    )


def formatter(kind: str, *, journald: bool) -> logging.Formatter:
    """Return the formatter of `log.format` = `kind`; under journald, lines carry no time."""
    inner: logging.Formatter
    if kind == "json":
        fields = "%(levelname)s %(name)s %(message)s"
        inner = _JsonLines(
            fields if journald else f"%(asctime)s {fields}", rename_fields=JSON_FIELDS
        )
    else:
        inner = _TextLines(JOURNAL_TEXT_FORMAT if journald else TEXT_FORMAT)
    return _JournalPrefix(inner) if journald else inner


class DaemonLog:
    """The handler on the root logger, and what the `log` settings set."""

    def __init__(self, stream: TextIO, *, journald: bool) -> None:
        self.journald = journald
        self.handler = _Handler(stream)

    def install(self) -> None:
        """Put the handler on the root logger, in place of one an earlier setup put there."""
        root = logging.getLogger()
        for handler in root.handlers[:]:
            if isinstance(handler, _Handler):
                root.removeHandler(handler)
        root.addHandler(self.handler)

    def configure(self, config: Config) -> None:
        """Apply `config.log`: level, format and access log (at start, and on SIGHUP)."""
        self.handler.setFormatter(formatter(config.log.format, journald=self.journald))
        root = logging.getLogger()
        root.setLevel(config.log.level.upper())
        # APScheduler logs every run at INFO: once a second for stats-tick is noise.
        logging.getLogger("apscheduler").setLevel(max(logging.WARNING, root.level))
        # Its own level: asked for, access lines are written even when log.level is warning.
        access = logging.INFO if config.log.access else ACCESS_OFF
        logging.getLogger(ACCESS_LOGGER).setLevel(access)


class _Handler(logging.StreamHandler):  # type: ignore[type-arg] # typeshed: generic in 3.12
    """The daemon's own stderr handler, told apart from handlers others installed."""


def setup(
    config: Config, stream: TextIO | None = None, environ: Mapping[str, str] | None = None
) -> DaemonLog:
    """Send the log to `stream` (stderr) as `config` says; return it, to reconfigure."""
    stream = sys.stderr if stream is None else stream
    environ = os.environ if environ is None else environ
    log = DaemonLog(stream, journald=under_journald(stream, environ))
    log.install()
    log.configure(config)
    # Python's warnings through the log too: a JSON log stays one object a line.
    logging.captureWarnings(True)
    return log


def access_logger() -> logging.Logger:
    """Return the logger of the access log (silent until `log.access` is on)."""
    return logging.getLogger(ACCESS_LOGGER)


class AccessLog(AbstractAccessLogger):
    """aiohttp's access log, one line per answered request, without query or secret.

    aiohttp asks `enabled` once per connection; this asks the logger per request instead,
    so that `log.access` turns on and off for open keep-alive connections too.
    """

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """Write the line of one answered request, if the access log is on."""
        if not self.logger.isEnabledFor(logging.INFO):
            return
        fields = access_fields(request, response, time)
        args = (
            fields["remote"],
            fields["method"],
            fields["path"],
            fields["status"],
            fields["bytes"],
            time * 1000,
            fields["token"] or "-",
        )
        # The record made as `info` makes it, but without its walk up the stack for the
        # caller's file and line: no format shows them, and the walk is the dearest step.
        logger = self.logger
        logger.handle(
            logger.makeRecord(logger.name, logging.INFO, "", 0, LINE, args, None, None, fields)
        )


def access_fields(request: BaseRequest, response: StreamResponse, time: float) -> dict[str, Any]:
    """Return what the access line of a request says, by name (a JSON line's extra fields)."""
    return {
        "remote": request.remote or "-",
        "method": request.method,
        "path": request_path(request),
        "status": response.status,
        "bytes": response.body_length,
        "duration": round(time, 6),
        "token": token_name(request),
    }


def request_path(request: BaseRequest) -> str:
    """Return a request's path as every log line shows it: raw, its query and parameters
    left out (`?...`, `;...`), not printable characters escaped, at most PATH_CHARS long.

    Never `request.path`: it is percent-decoded, so `%0a` in it is a line break.
    """
    url = request.rel_url
    path, parameters, _ = url.raw_path.partition(";")
    if len(path) > PATH_CHARS:
        path = path[:PATH_CHARS] + CUT
    # The C parser refuses control characters and raw non-ASCII in a path; the pure-Python
    # one (AIOHTTP_NO_EXTENSIONS) lets them through, as text or as surrogates.
    path = printable(path) or "-"  # CONNECT's target is an authority: no path
    if parameters:
        path += PARAMETERS_LEFT_OUT
    return path + (QUERY_LEFT_OUT if url.raw_query_string else "")
