"""The log's lines: JSON fields, journald's form (no time, a priority), and the access log."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from eventd import logs
from eventd.app import create_app
from eventd.config import Config
from tests.auth.tokens import SECRETS, bearer, locked_config
from tests.conftest import FakeClock
from tests.daemon import Daemon
from tests.waiting import wait_for

Client = TestClient[Any, Any]
# A time as the text format writes it: `2025-01-01 12:00:00,250`.
TEXT_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def lines_of(form: str, *, journald: bool, emit: Any) -> list[str]:
    """Return what `emit(logger)` writes through the formatter of `form`."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.formatter(form, journald=journald))
    logger = logging.getLogger(f"tests.log_lines.{form}.{journald}")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().splitlines()


def info_then_exception(logger: logging.Logger) -> None:
    logger.info("stored %d events", 3)
    try:
        raise ValueError("a fault")
    except ValueError:
        logger.exception("the store failed")


@pytest.mark.parametrize("journald", [False, True])
def test_json_lines_parse_and_carry_the_fields(journald: bool) -> None:
    lines = lines_of("json", journald=journald, emit=info_then_exception)
    assert len(lines) == 2, lines  # the traceback stays inside its line
    prefix = "<6>" if journald else ""
    assert lines[0].startswith(prefix + "{")
    info = json.loads(lines[0].removeprefix(prefix))
    # journald stamps each entry itself; a line outside it carries its own time.
    fields = ["level", "logger", "message"]
    assert list(info) == (fields if journald else ["time", *fields])
    assert info["level"] == "INFO" and info["message"] == "stored 3 events"
    assert info["logger"] == "tests.log_lines.json." + str(journald)
    if not journald:
        assert info["time"].endswith("Z") and datetime.fromisoformat(info["time"])
    error = json.loads(lines[1].removeprefix("<3>" if journald else ""))
    assert (error["level"], error["message"]) == ("ERROR", "the store failed")
    assert error["exception"].startswith("Traceback")
    assert error["exception"].endswith("ValueError: a fault")


def test_text_lines_carry_the_time_except_under_journald() -> None:
    [plain] = lines_of("text", journald=False, emit=lambda log: log.warning("slow"))
    assert TEXT_TIME.match(plain) and plain.endswith(" WARNING tests.log_lines.text.False: slow")
    journal = lines_of("text", journald=True, emit=info_then_exception)
    assert journal[0] == "<6>INFO tests.log_lines.text.True: stored 3 events"
    assert not any(TEXT_TIME.search(line) for line in journal), journal
    # Every line of the traceback is filed under the record's priority.
    assert len(journal) > 3 and all(line.startswith("<3>") for line in journal[1:]), journal


def test_under_journald_compares_the_device_and_inode_of_the_stream(tmp_path: Path) -> None:
    with (tmp_path / "stderr").open("w") as stream, (tmp_path / "other").open("w") as other:
        stat = os.fstat(stream.fileno())
        own = f"{stat.st_dev}:{stat.st_ino}"
        assert logs.under_journald(stream, {"JOURNAL_STREAM": own})
        assert not logs.under_journald(other, {"JOURNAL_STREAM": own})  # redirected since
        assert not logs.under_journald(stream, {})
        assert not logs.under_journald(stream, {"JOURNAL_STREAM": "garbage"})
        for digits in ("²:1", "1:²", "\u0661:1", ":1", "1:"):  # not ASCII digits ("²": int() fails)
            assert not logs.under_journald(stream, {"JOURNAL_STREAM": digits}), digits
        assert not logs.under_journald(io.StringIO(), {"JOURNAL_STREAM": own})


@pytest.mark.slow
@pytest.mark.parametrize("form", ["text", "json"])
async def test_a_daemon_under_journald(tmp_path: Path, form: str) -> None:
    daemon = Daemon(tmp_path, EVENTD_LOG_FORMAT=form)
    daemon.log_path.touch()  # its device and inode stay when the daemon opens it
    stat = daemon.log_path.stat()
    daemon.env["JOURNAL_STREAM"] = f"{stat.st_dev}:{stat.st_ino}"
    async with daemon:
        await wait_for(lambda: "store open" in daemon.log, "the store opened")
        assert await daemon.stop() == 0
    lines = daemon.log.splitlines()
    assert lines and all(re.match(r"<[0-7]>", line) for line in lines), lines
    if form == "text":
        assert "<6>INFO eventd.app: store open: engine memory" in lines
        assert not any(TEXT_TIME.search(line) for line in lines), lines
    else:  # the journal stamps each entry: JSON lines carry no time of their own either
        assert not any("time" in json.loads(line[3:]) for line in lines), lines


@pytest.fixture
def daemon_log() -> Iterator[io.StringIO]:
    """Yield the stream `logs.setup` writes to; restore the loggers it changes."""
    names = ("", "apscheduler", logs.ACCESS_LOGGER)
    levels = {name: logging.getLogger(name).level for name in names}
    handlers = logging.getLogger().handlers[:]
    yield io.StringIO()
    logging.captureWarnings(False)
    logging.getLogger().handlers[:] = handlers
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


async def client_with_access_log(
    aiohttp_client: Any, clock: FakeClock, config: Config | None = None
) -> Client:
    server = TestServer(create_app(config or locked_config(), clock=clock))
    # As `eventd serve` runs it (TestServer takes no server options in its constructor).
    await server.start_server(access_log=logs.access_logger(), access_log_class=logs.AccessLog)
    client: Client = await aiohttp_client(server)
    return client


async def test_access_lines_name_what_they_should(
    aiohttp_client: Any, clock: FakeClock, daemon_log: io.StringIO
) -> None:
    # The clock stands still: a token's second request in the same minute is one too many.
    config = locked_config(log={"access": True}, limits={"rate": "1/m", "burst": 1})
    logs.setup(config, daemon_log, {})
    client = await client_with_access_log(aiohttp_client, clock, config)
    assert (await client.get("/events?limit=5", headers=bearer(SECRETS["read"]))).status == 200
    assert (await client.get("/events")).status == 401
    assert (await client.post("/events", json={}, headers=bearer(SECRETS["admin"]))).status == 403
    assert (await client.get("/events", headers=bearer(SECRETS["read"]))).status == 429
    ok, unauthorized, forbidden, limited = access_lines(daemon_log)
    line = r"127\.0\.0\.1 {} {} {} \d+ bytes \d+\.\d ms token {}"
    assert re.search(line.format("GET", r"/events\?\.\.\.", 200, "only-read"), ok), ok
    assert re.search(line.format("GET", "/events", 401, "-"), unauthorized), unauthorized
    assert re.search(line.format("POST", "/events", 403, "only-admin"), forbidden), forbidden
    assert re.search(line.format("GET", "/events", 429, "only-read"), limited), limited
    assert "limit=5" not in ok


def access_lines(stream: io.StringIO) -> list[str]:
    return [line for line in stream.getvalue().splitlines() if " eventd.access: " in line]


async def test_a_reload_turns_the_access_log_and_json_on_and_off(
    aiohttp_client: Any, clock: FakeClock, daemon_log: io.StringIO
) -> None:
    log = logs.setup(locked_config(), daemon_log, {})
    client = await client_with_access_log(aiohttp_client, clock)  # one keep-alive connection
    await client.get("/health")
    assert access_lines(daemon_log) == []  # off by default
    log.configure(locked_config(log={"access": True, "format": "json"}))
    await client.get("/health")
    fields = json.loads(daemon_log.getvalue().splitlines()[-1])
    assert (fields["logger"], fields["path"], fields["status"]) == ("eventd.access", "/health", 200)
    assert fields["token"] is None and fields["method"] == "GET" and fields["bytes"] > 0
    assert isinstance(fields["duration"], float) and fields["remote"] == "127.0.0.1"
    log.configure(locked_config())
    await client.get("/health")
    assert daemon_log.getvalue().count("eventd.access") == 1


def test_python_warnings_go_through_the_log(daemon_log: io.StringIO) -> None:
    logs.setup(locked_config(log={"format": "json"}), daemon_log, {})
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("an old API", DeprecationWarning, stacklevel=1)
    fields = json.loads(daemon_log.getvalue().splitlines()[-1])
    assert (fields["logger"], fields["level"]) == ("py.warnings", "WARNING")
    assert "DeprecationWarning: an old API" in fields["message"]
