"""`eventd tail` as a real process against real `eventd serve` processes."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.daemon import Daemon
from tests.gate import Gate
from tests.redis_server import RedisServer, free_port
from tests.tail.process import Tail, post, tail_env

pytestmark = pytest.mark.slow


def titled(title: str) -> Callable[[str], bool]:
    return lambda line: title in line


def columns(line: str) -> list[str]:
    """Return the columns of a line: time, position, op, type, key, title, value."""
    return re.split(" {2,}", line)


async def test_one_line_per_change(tmp_path: Path) -> None:
    async with Daemon(tmp_path) as daemon, Tail("--url", daemon.base) as tail:
        await tail.said(f"following {daemon.base} after position 0")
        event = await post(daemon.base, {"type": "deploy", "key": "web", "title": "v2", "value": 3})
        await post(daemon.base, {"value": 4.5}, method="PATCH", path=f"/events/{event['id']}")
        await post(daemon.base, None, method="DELETE", path=f"/events/{event['id']}")
        await post(daemon.base, {"type": "note"})

        lines = [await tail.line() for _ in range(4)]
    assert [columns(line)[1:] for line in lines] == [
        ["#1", "created", "deploy", "web", "v2", "3.0"],
        ["#2", "updated", "deploy", "web", "v2", "4.5"],
        ["#3", "deleted", "deploy", "web", "v2", "4.5"],
        ["#4", "created", "note", "-", "-", "-"],
    ]
    assert lines[0].startswith(event["timestamp"])
    assert not any("\x1b" in line for line in lines)  # no colour into a pipe


async def test_json_prints_each_message_as_one_json_line(tmp_path: Path) -> None:
    async with Daemon(tmp_path) as daemon, Tail("--url", daemon.base, "--json") as tail:
        await tail.said("following")
        first = await post(daemon.base, {"type": "deploy", "title": "a\nb", "data": {"n": 1}})
        second = await post(daemon.base, {"type": "deploy", "title": "c", "value": 1.5})
        lines = [await tail.line() for _ in range(2)]
    messages = [json.loads(line) for line in lines]
    assert [m["type"] for m in messages] == ["change", "change"]
    assert [m["position"] for m in messages] == [1, 2]
    assert [m["op"] for m in messages] == ["created", "created"]
    assert [m["event"] for m in messages] == [first, second]


async def test_type_and_key_keep_the_matching_events(tmp_path: Path) -> None:
    args = ("--type", "deploy,build", "--key", "web", "--key", "db")
    async with Daemon(tmp_path) as daemon, Tail("--url", daemon.base, *args) as tail:
        await tail.said("following")
        events = [
            {"type": "deploy", "key": "web", "title": "kept 1"},
            {"type": "deploy", "key": "cache", "title": "other key"},
            {"type": "alert", "key": "web", "title": "other type"},
            {"type": "deploy", "title": "no key"},
            {"type": "build", "key": "db", "title": "kept 2"},
        ]
        await post(daemon.base, events)
        # Changes come in position order: what the filter let through comes before this.
        await post(daemon.base, {"type": "build", "key": "web", "title": "last"})
        lines = await tail.lines_until(titled("last"))
    assert [columns(line)[5] for line in lines] == ["kept 1", "kept 2", "last"]


async def test_stats_and_reminders_channels(tmp_path: Path) -> None:
    async with (
        Daemon(tmp_path) as daemon,
        Tail("--url", daemon.base, "--channels", "stats,reminders") as tail,
    ):
        await tail.said("following")
        snapshot = [await tail.line() for _ in range(4)]  # one line per configured window
        assert [columns(line)[1:4] + line.split()[4:5] for line in snapshot] == [
            ["stats", "*", window, "count=0"] for window in ("5m", "15m", "1h", "1d")
        ]
        # Due five minutes before it starts: at once.
        starts = time.time() + 120
        await post(daemon.base, {"type": "meeting", "title": "Standup", "timestamp": starts})
        reminder = await tail.lines_until(lambda line: "reminder" in line)
        await post(daemon.base, {"type": "deploy", "value": 7})
        stats = await tail.lines_until(lambda line: " 5m " in line and "count=1" in line)
    fields = columns(reminder[-1])
    assert fields[2:6] == ["reminder", "meeting", "-", "Standup"]
    assert fields[6].startswith("Event 'Standup' starts in ")
    assert "mean=7" in stats[-1] and "max=7" in stats[-1]
    assert not any("created" in line for line in [*reminder, *stats])  # not on `events`


@pytest.mark.redis
async def test_resumes_across_a_restart_with_no_missing_and_no_duplicate_line(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    env = {"EVENTD_ENGINE": "redis", "EVENTD_ENGINE_REDIS_URL": redis_server.url}
    env["EVENTD_ENGINE_REDIS_NAMESPACE"] = f"tail{id(tmp_path)}"
    shown = Daemon(tmp_path, **env)
    async with shown, Daemon(tmp_path, **env) as other, Tail("--url", shown.base) as tail:
        await tail.said("following")
        await post(shown.base, {"type": "job", "title": "before"})
        await tail.lines_until(titled("before"))

        await shown.stop()
        await tail.said(f"waiting for {shown.base}…")
        # Written through another daemon on the same Redis while this one is away.
        for n in range(3):
            await post(other.base, {"type": "job", "title": f"away-{n}"})
        await shown.start()
        await tail.said(f"resumed at {shown.base} after position ")
        await post(shown.base, {"type": "job", "title": "after"})
        await tail.lines_until(titled("after"))
    titles = [columns(line)[5] for line in tail.lines]
    assert titles == ["before", "away-0", "away-1", "away-2", "after"]
    positions = [int(columns(line)[1].removeprefix("#")) for line in tail.lines]
    assert positions == sorted(set(positions))


async def test_a_restarted_memory_daemon_is_followed_from_its_oldest_change(
    tmp_path: Path,
) -> None:
    # Its positions count from 1 again in a new epoch: the tail says so and shows what the
    # new daemon was given before the tail came back (the gate kept the tail away).
    daemon = Daemon(tmp_path)
    async with daemon, Gate(daemon.port) as gate, Tail("--url", gate.base) as tail:
        await tail.said("following")
        await post(daemon.base, {"title": "lost"})
        await tail.line()
        gate.hold()
        await tail.said("waiting for")
        await daemon.stop()
        await daemon.start()
        await post(daemon.base, {"title": "early"})
        gate.release()
        line = await tail.said("history truncated (epoch)")
        assert "the feed's history is another one" in line
        assert "continuing after position 0 (the oldest held" in line
        early = await tail.line()
        assert columns(early)[1:3] == ["#1", "created"] and "early" in early
        await post(daemon.base, {"title": "new"})
        assert columns(await tail.line())[1:3] == ["#2", "created"]
        assert await tail.interrupt() == 0
    assert not any("Traceback" in line for line in [*tail.errors, *await tail.rest_of_stderr()])


async def test_a_since_past_the_head_is_said_so_and_followed_from_the_head(
    tmp_path: Path,
) -> None:
    async with Daemon(tmp_path) as daemon:
        await post(daemon.base, {"title": "one"})
        async with Tail("--url", daemon.base, "--since", "50") as tail:
            line = await tail.said("history truncated (ahead)")
            assert "position 50 is past the feed's head, position 1" in line
            assert "no longer held" not in line
            await tail.said("following")
            one = await tail.line()
            assert columns(one)[1:3] == ["#1", "created"] and "one" in one


async def test_since_replays_what_came_after_it(tmp_path: Path) -> None:
    async with Daemon(tmp_path) as daemon:
        await post(daemon.base, [{"title": f"old-{n}"} for n in range(3)])
        async with Tail("--url", daemon.base, "--since", "1") as tail:
            await tail.said("following")
            await post(daemon.base, {"title": "live"})
            lines = await tail.lines_until(titled("live"))
    assert [columns(line)[1] for line in lines] == ["#2", "#3", "#4"]
    assert [columns(line)[5] for line in lines] == ["old-1", "old-2", "live"]


async def test_waits_for_a_daemon_that_is_not_there(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, port=free_port())
    async with Tail("--url", daemon.base) as tail:
        await tail.said(f"eventd tail: waiting for {daemon.base}… (connection failed")
        async with daemon:
            await tail.said("following")
            await post(daemon.base, {"title": "at last"})
            assert "at last" in await tail.line()
        assert await tail.interrupt() == 0
    assert not any("Traceback" in line for line in [*tail.errors, *await tail.rest_of_stderr()])


async def test_the_default_url_comes_from_the_configuration(tmp_path: Path) -> None:
    async with (
        Daemon(tmp_path) as daemon,
        Tail(env=tail_env(EVENTD_SERVER_PORT=str(daemon.port))) as tail,
    ):
        await tail.said(f"following http://127.0.0.1:{daemon.port} after")
        await post(daemon.base, {"title": "found"})
        assert "found" in await tail.line()


async def test_ctrl_c_exits_quietly(tmp_path: Path) -> None:
    async with Daemon(tmp_path) as daemon, Tail("--url", daemon.base) as tail:
        await tail.said("following")
        assert await tail.interrupt() == 0
        assert await tail.rest_of_stderr() == []


async def test_stats_follow_each_type_asked_for_whatever_the_key(tmp_path: Path) -> None:
    args = ("--channels", "events,stats", "--type", "deploy,build", "--key", "web")
    async with Daemon(tmp_path) as daemon, Tail("--url", daemon.base, *args) as tail:
        await tail.said("following")  # once both subscriptions are made
        snapshot = [columns(await tail.line()) for _ in range(8)]
        assert sorted((line[2], line[3]) for line in snapshot) == sorted(
            (kind, window) for kind in ("build", "deploy") for window in ("5m", "15m", "1h", "1d")
        )
        await post(daemon.base, {"type": "deploy", "key": "db", "title": "other key", "value": 2})
        lines = await tail.lines_until(lambda line: "deploy  5m  count=1 " in line)
    # The statistics are kept per type: the key narrows the changes only.
    assert not any("other key" in line for line in lines)
    assert not any("build  5m  count=1" in line for line in lines)
