"""No secret reaches the log: a real `eventd serve` at debug level, with the access log on, is
given good, bad and malformed tokens every way a client can send one, and its stderr is
searched for each secret afterwards."""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
from pathlib import Path

import aiohttp
import pytest

from eventd.config import digest, new_token
from tests.daemon import Daemon
from tests.redis_server import RedisServer
from tests.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.redis]
CLOSE_UNAUTHORIZED = 4001


class Secrets:
    """The secrets of one run: each random, so that finding one in the log is no accident."""

    def __init__(self) -> None:
        self.writer, self.writer_table = new_token("writer", frozenset({"read", "write"}))
        self.reader, self.reader_table = new_token("reader", frozenset({"read"}))
        self.redis_password = "redis-pw-" + secrets.token_urlsafe(16)
        # Secrets of no configured token, and secrets put where no token belongs.
        self.unknown = {name: f"{name}-{secrets.token_urlsafe(24)}" for name in UNKNOWN}

    def all(self) -> dict[str, str]:
        known = {"writer": self.writer, "reader": self.reader, "redis": self.redis_password}
        hashes = {"writer sha256": digest(self.writer), "reader sha256": digest(self.reader)}
        return known | hashes | self.unknown


UNKNOWN = (
    "bearer",
    "basic",
    "no-scheme",
    "two-headers",
    "control-char",
    "query",
    "ws-query",
    "ws-header",
    "ws-auth",
    "ws-malformed",
    "body-401",
    "body-403",
    "body-422",
)


def configure(tmp_path: Path, keys: Secrets, redis_url: str) -> Path:
    tokens_file = tmp_path / "tokens.toml"
    tokens_file.write_text(keys.reader_table)
    config = tmp_path / "config.toml"
    config.write_text(
        f'{keys.writer_table}\n[auth]\ntokens_file = "{tokens_file}"\n\n'
        f'[engine]\nname = "redis"\n\n[engine.redis]\nurl = "{redis_url}"\n'
    )
    return config


@pytest.mark.parametrize("form", ["text", "json"])
async def test_no_secret_in_the_log(tmp_path: Path, form: str) -> None:
    keys = Secrets()
    server = RedisServer(tmp_path, password=keys.redis_password)
    server.start()
    try:
        config = configure(tmp_path, keys, server.url)
        daemon = Daemon(
            tmp_path,
            "--config",
            str(config),
            EVENTD_LOG_LEVEL="debug",
            EVENTD_LOG_ACCESS="true",
            EVENTD_LOG_FORMAT=form,
        )
        async with daemon:
            await http_requests(daemon, keys)
            await malformed_header(daemon, keys.unknown["control-char"])
            await websockets(daemon, keys)
            assert daemon.process is not None
            daemon.process.send_signal(signal.SIGHUP)  # the tokens file is read again
            await wait_for(lambda: "configuration reloaded" in daemon.log, "the reload")
            assert await daemon.stop() == 0
    finally:
        server.stop()
    log = daemon.log
    # The log is what the test thinks it is: debug lines, access lines naming tokens.
    assert "DEBUG" in log and "unparseable request" in log
    assert "token writer" in log and "token reader" in log and "/events?..." in log
    if form == "json":
        for line in log.splitlines():
            json.loads(line)
    leaked = [name for name, secret in keys.all().items() if secret in log]
    assert not leaked, f"secrets in the log: {leaked}\n{log}"


async def http_requests(daemon: Daemon, keys: Secrets) -> None:
    """Send tokens good, bad and malformed, secrets in queries and in refused bodies."""
    unknown = keys.unknown
    event = {"type": "secret", "data": {"password": unknown["body-401"]}}
    asks: list[tuple[str, str, dict[str, str], object, int]] = [
        ("GET", "/events", bearer(keys.writer), None, 200),
        ("GET", "/events", bearer(keys.reader), None, 200),
        ("GET", "/events", bearer(unknown["bearer"]), None, 401),
        ("GET", "/events", {"Authorization": f"Basic {unknown['basic']}"}, None, 401),
        ("GET", "/events", {"Authorization": unknown["no-scheme"]}, None, 401),
        ("GET", f"/events?access_token={unknown['query']}", bearer(keys.reader), None, 400),
        ("GET", f"/health?{unknown['query']}", {}, None, 400),
        ("POST", "/events", bearer(unknown["bearer"]), event, 401),
        ("POST", "/events", bearer(keys.reader), secret_event(unknown["body-403"]), 403),
        ("POST", "/events", bearer(keys.writer), {"timestamp": unknown["body-422"]}, 422),
    ]
    async with aiohttp.ClientSession() as session:
        for method, path, headers, body, status in asks:
            async with session.request(
                method, daemon.base + path, headers=headers, json=body
            ) as response:
                assert response.status == status, (method, path, await response.text())
        two = [("Authorization", f"Bearer {keys.writer}")] * 2
        two.append(("Authorization", f"Bearer {unknown['two-headers']}"))
        async with session.get(f"{daemon.base}/events", headers=two) as response:
            assert response.status == 401


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def secret_event(secret: str) -> dict[str, object]:
    return {"type": "secret", "title": secret, "data": secret}


async def malformed_header(daemon: Daemon, secret: str) -> None:
    """Send a token with a control character: aiohttp cannot parse it, and says why."""
    reader, writer = await asyncio.open_connection("127.0.0.1", daemon.port)
    writer.write(
        b"GET /events HTTP/1.1\r\nHost: localhost\r\n"
        b"Authorization: Bearer " + secret.encode() + b"\x01" + secret.encode() + b"\r\n\r\n"
    )
    await writer.drain()
    answer = await reader.read()  # aiohttp closes the connection after a 400
    writer.close()
    await writer.wait_closed()
    assert answer.split(b"\r\n")[0].endswith(b" 400 Bad Request"), answer


async def websockets(daemon: Daemon, keys: Secrets) -> None:
    """Authenticate sockets by message and by header, well and badly."""
    unknown = keys.unknown
    url = f"{daemon.base}/ws"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url) as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "welcome"
            await ws.send_json({"type": "auth", "token": keys.reader})
            assert (await ws.receive_json(timeout=10))["type"] == "auth_ok"
            malformed = {"type": "auth", "token": unknown["ws-malformed"], "also": 1}
            await ws.send_json(malformed)
            assert (await ws.receive_json(timeout=10))["code"] == "bad_message"
        for headers, message, where in (
            ({}, {"type": "auth", "token": unknown["ws-auth"]}, url),
            (bearer(unknown["ws-header"]), None, url),
            ({}, {"type": "auth", "token": keys.writer}, f"{url}?token={unknown['ws-query']}"),
        ):
            async with session.ws_connect(where, headers=headers) as ws:
                if message is not None:
                    assert (await ws.receive_json(timeout=10))["type"] == "welcome"
                    await ws.send_json(message)
                    if message["token"] == keys.writer:
                        assert (await ws.receive_json(timeout=10))["type"] == "auth_ok"
                        continue
                closing = await ws.receive(timeout=10)
                assert closing.type == aiohttp.WSMsgType.CLOSE, closing
                assert ws.close_code == CLOSE_UNAUTHORIZED
