"""SIGHUP on a real `eventd serve`: the log level, tokens and CORS origins change live, an
open WebSocket keeps receiving, and a configuration that does not load changes nothing."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from eventd.config import digest
from tests.daemon import Daemon
from tests.systemd.manager import Manager, Message

pytestmark = pytest.mark.slow

KEEP, OLD, NEW = "secret-kept", "secret-revoked", "secret-added"
DASHBOARD = "https://dash.example"


def config_text(level: str, secrets: dict[str, str], extra: str = "") -> str:
    tables = "".join(
        f'[[auth.tokens]]\nname = "{name}"\nsha256 = "{digest(secret)}"\n'
        'scopes = ["read", "write"]\n'
        for name, secret in secrets.items()
    )
    return f'[log]\nlevel = "{level}"\n[auth]\nanonymous = []\n{tables}{extra}'


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def status_of(daemon: Daemon, path: str, secret: str) -> int:
    async with (
        aiohttp.ClientSession() as session,
        session.get(daemon.base + path, headers=bearer(secret)) as response,
    ):
        return response.status


async def post(session: aiohttp.ClientSession, daemon: Daemon, secret: str, id: str) -> None:
    url = daemon.base + "/events"
    async with session.post(url, json={"id": id}, headers=bearer(secret)) as response:
        assert response.status == 201, await response.text()


async def next_change(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    while True:
        message: dict[str, Any] = await ws.receive_json(timeout=30)
        if message["type"] == "change":
            return message


async def reload(daemon: Daemon, manager: Manager) -> tuple[Message, Message]:
    """Send SIGHUP; return the RELOADING=1 and the READY=1 notifications that follow."""
    assert daemon.process is not None
    daemon.process.send_signal(signal.SIGHUP)
    reloading, _ = await manager.until("RELOADING")
    ready, _ = await manager.until("READY")
    return reloading, ready


async def test_sighup_changes_level_tokens_and_origins_keeping_a_websocket(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(config_text("warning", {"keeper": KEEP, "old": OLD}))
    with Manager() as manager:
        async with (
            Daemon(tmp_path, "--config", str(path), **manager.env) as daemon,
            aiohttp.ClientSession() as session,
            session.ws_connect(daemon.base + "/ws", headers=bearer(KEEP)) as ws,
        ):
            await manager.until("READY")
            assert (await ws.receive_json(timeout=30))["type"] == "welcome"
            await ws.send_json({"type": "subscribe", "id": "s", "channels": ["events"]})
            assert (await ws.receive_json(timeout=30))["type"] == "subscribed"
            await post(session, daemon, OLD, "before")
            assert (await next_change(ws))["event"]["id"] == "before"

            extra = f'[http]\ncors_origins = ["{DASHBOARD}"]\n[limits]\nmax_batch = 10\n'
            path.write_text(config_text("info", {"keeper": KEEP, "new": NEW}, extra))
            sent_after = time.monotonic_ns() // 1000
            reloading, ready = await reload(daemon, manager)
            assert sent_after <= int(reloading["MONOTONIC_USEC"]) <= time.monotonic_ns() // 1000
            assert ready["STATUS"] == "serving, configuration reloaded"

            assert await status_of(daemon, "/events", NEW) == 200
            assert await status_of(daemon, "/events", OLD) == 401
            await post(session, daemon, NEW, "after")
            assert (await next_change(ws))["event"]["id"] == "after"  # the socket stayed open
            headers = {"Origin": DASHBOARD} | bearer(KEEP)
            async with session.get(daemon.base + "/events", headers=headers) as response:
                assert response.headers["Access-Control-Allow-Origin"] == DASHBOARD
        log = daemon.log
    # Started at WARNING: no INFO line until the reload applied INFO, and then its own.
    before = log.split("configuration reloaded")[0].rpartition("\n")[0]
    assert " INFO " not in before
    assert "configuration reloaded; applied: http.cors_origins, auth.tokens, log.level" in log
    assert "reload: limits.max_batch changed; it takes effect at the next restart" in log
    assert "secret" not in log


async def test_a_configuration_that_does_not_load_keeps_the_one_in_use(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(config_text("info", {"keeper": KEEP}))
    with Manager() as manager:
        async with Daemon(tmp_path, "--config", str(path), **manager.env) as daemon:
            await manager.until("READY")
            path.write_text(config_text("info", {"keeper": KEEP}) + "[limits]\nmax_batch = 0\n")
            _, ready = await reload(daemon, manager)
            assert ready["STATUS"].startswith("serving, reload failed: limits.max_batch: must be")
            path.write_text("[log\n")
            _, ready = await reload(daemon, manager)
            assert "not valid TOML" in ready["STATUS"]
            assert await status_of(daemon, "/events", KEEP) == 200
            assert await daemon.stop() == 0
    assert daemon.log.count("reload failed, the configuration in use stays") == 2
