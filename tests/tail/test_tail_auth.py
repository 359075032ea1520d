"""`eventd tail` as a real process against real `eventd serve` processes with tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.auth.tokens import SECRETS, bearer, token_tables
from tests.daemon import Daemon
from tests.tail.process import Tail, tail_env

pytestmark = pytest.mark.slow

READ, WRITE = SECRETS["read"], SECRETS["write"]
UNKNOWN = "a-secret-this-daemon-does-not-know"


def locked(tmp_path: Path) -> Daemon:
    """A daemon with a token per scope (tests/auth/tokens.py) and nothing without one."""
    path = tmp_path / "tokens.toml"
    path.write_text(
        "".join(
            f'[[auth.tokens]]\nname = "{t["name"]}"\nsha256 = "{t["sha256"]}"\n'
            f'scopes = ["{t["scopes"][0]}"]\n'
            for t in token_tables()
        )
    )
    return Daemon(tmp_path, EVENTD_AUTH_TOKENS_FILE=str(path))


async def post(base: str, event: dict[str, Any]) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}/events", json=event, headers=bearer(WRITE)) as response,
    ):
        assert response.status == 201, await response.text()


async def everything(tail: Tail) -> str:
    """Return all the tail printed on stdout and stderr, once it has exited."""
    return "\n".join([*tail.lines, *tail.errors, *await tail.rest_of_stderr()])


async def test_the_token_of_the_environment(tmp_path: Path) -> None:
    # No --url: the configuration is read, and EVENTD_TOKEN is not taken for a setting.
    async with locked(tmp_path) as daemon:
        env = tail_env(EVENTD_TOKEN=READ, EVENTD_SERVER_PORT=str(daemon.port))
        async with Tail(env=env) as tail:
            await tail.said(f"following {daemon.base} after position 0")
            await post(daemon.base, {"type": "deploy", "title": "with a token"})
            assert "with a token" in await tail.line()
            assert await tail.interrupt() == 0
    assert READ not in await everything(tail)


async def test_the_token_of_a_file_on_every_subscription(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(f"{READ}\n")
    args = ("--token-file", str(path), "--channels", "events,stats", "--json")
    daemon = locked(tmp_path)
    async with daemon, Tail("--url", daemon.base, *args, env=tail_env()) as tail:
        await tail.said("following")  # once the feed and the stats subscriptions are made
        await post(daemon.base, {"type": "deploy", "title": "from the file"})
        lines = await tail.lines_until(lambda line: "from the file" in line)
        assert await tail.interrupt() == 0
    kinds = [json.loads(line)["type"] for line in lines]
    assert kinds[-1] == "change" and "stats" in kinds
    assert READ not in await everything(tail)


@pytest.mark.parametrize(
    ("token", "line"),
    [
        (UNKNOWN, "eventd tail: the daemon refused the token of EVENTD_TOKEN (unauthorized)"),
        (
            WRITE,
            "eventd tail: the token of EVENTD_TOKEN lacks the read scope the feed needs "
            "(forbidden)",
        ),
        (
            None,
            "eventd tail: the daemon needs a token with the read scope (forbidden): "
            "set EVENTD_TOKEN or use --token-file PATH",
        ),
    ],
    ids=["unknown", "write-only", "none"],
)
async def test_a_refusal_exits_2_with_one_line(
    tmp_path: Path, token: str | None, line: str
) -> None:
    env = tail_env() if token is None else tail_env(EVENTD_TOKEN=token)
    async with locked(tmp_path) as daemon, Tail("--url", daemon.base, env=env) as tail:
        assert await tail.wait() == 2  # at once: no retry with a token that cannot change
        assert await tail.rest_of_stderr() == [line]
    assert tail.lines == []
    if token is not None:
        assert token not in daemon.log


async def test_a_restarted_daemon_is_followed_with_the_token_again(tmp_path: Path) -> None:
    daemon = locked(tmp_path)
    async with daemon, Tail("--url", daemon.base, env=tail_env(EVENTD_TOKEN=READ)) as tail:
        await tail.said("following")
        await post(daemon.base, {"title": "before"})
        assert "before" in await tail.line()
        await daemon.stop()
        await tail.said("waiting for")
        await daemon.start()
        await post(daemon.base, {"title": "after"})
        # A new memory daemon is a new epoch: the tail says so and shows what it holds. A
        # reconnection without the token would be refused, and the tail would exit 2.
        await tail.said("history truncated (epoch)")
        assert "after" in await tail.line()
        assert await tail.interrupt() == 0
    assert READ not in await everything(tail)
