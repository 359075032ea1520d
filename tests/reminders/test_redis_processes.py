"""Reminders with real processes: `eventd serve` daemons on a test Redis, real WebSocket
subscribers. Whatever happens to the daemons (a SIGKILL just after a claim, downtime across a
due time, two of them sharing the work), each reminder reaches each subscriber exactly once,
or is recorded as missed when its event started while no daemon ran.

Due times are a few seconds ahead of the wall clock; the tests wait on conditions (a feed
entry in Redis, a message, the wall clock passing a due time), each bounded by a timeout.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio

from eventd.client import Subscriber
from eventd.store.redis.layout import Keys
from eventd.times import format_us, wall_clock_us
from tests.daemon import Daemon
from tests.redis_server import RedisServer
from tests.waiting import TIMEOUT, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.redis]

SECOND = 1_000_000  # µs
FEED = Keys("eventd").feed  # the change feed's stream under the default namespace


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
        yield session


def on_redis(server: RedisServer, tmp_path: Path, *, port: int | None = None) -> Daemon:
    return Daemon(
        tmp_path,
        port=port,
        EVENTD_ENGINE="redis",
        EVENTD_ENGINE_REDIS_URL=server.url,
        EVENTD_TIME_NAIVE_TIMEZONE="UTC",
    )


class Collector:
    """One subscriber to the `events` and `reminders` channels; a task keeps its messages.

    It is `eventd.client.Subscriber`: after a lost connection it reconnects by itself and
    resumes with `since` set to the last position it received.
    """

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base: str,
        *,
        since: int | None = None,
        epoch: str | None = None,
    ) -> None:
        self.subscriber = Subscriber(
            session,
            base,
            channels=["events", "reminders"],
            since=since,
            epoch=epoch,
            first_delay=0.02,
            max_delay=0.2,
        )
        self.reminders: list[dict[str, Any]] = []  # the `reminder` messages, in feed order
        self.counts: Counter[tuple[str, int]] = Counter()  # (event id, offset seconds)
        self.created: set[str] = set()  # ids of the events whose creation arrived
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.subscriber:
            if message["type"] == "reminder":
                self.reminders.append(message)
                reminder = message["reminder"]
                self.counts[reminder["event_id"], reminder["offset_seconds"]] += 1
            elif message["op"] == "created":
                self.created.add(message["event"]["id"])

    async def subscribed(self) -> None:
        """Wait until the server has confirmed the subscription."""
        waiting = asyncio.create_task(self.subscriber.connected.wait())
        await asyncio.wait({waiting, self.task}, timeout=TIMEOUT, return_when="FIRST_COMPLETED")
        waiting.cancel()
        self.check()
        assert self.subscriber.connected.is_set(), "the subscription was never confirmed"

    def check(self) -> None:
        """Raise what ended the reading task, if anything did."""
        if self.task.done():
            self.task.result()
            raise AssertionError("the subscriber stopped reading")

    def saw(self, event_id: str) -> bool:
        """Tell whether the creation of `event_id` arrived (a test's end marker: whatever
        the feed held before it has arrived too)."""
        self.check()
        return event_id in self.created

    def received(self) -> list[tuple[str, int]]:
        """Return the reminders received as (event id, offset seconds), in feed order."""
        return [
            (m["reminder"]["event_id"], m["reminder"]["offset_seconds"]) for m in self.reminders
        ]

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def until(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll an asynchronous condition (an HTTP answer) until it holds; fail after TIMEOUT."""
    try:
        async with asyncio.timeout(TIMEOUT):
            while not await check():  # noqa: ASYNC110 - an HTTP answer announces nothing
                await asyncio.sleep(0.02)
    except TimeoutError:
        raise AssertionError(f"timed out after {TIMEOUT:g} s waiting for {what}") from None


async def wall_clock_passes(us: int) -> None:
    """Wait until the wall clock reads later than `us` (µs since the epoch)."""
    while (left := us - wall_clock_us()) >= 0:  # noqa: ASYNC110 - the clock is the condition
        await asyncio.sleep(left / SECOND + 0.001)


async def post(session: aiohttp.ClientSession, base: str, body: Any) -> None:
    async with session.post(f"{base}/events", json=body) as response:
        assert response.status == 201, await response.text()


async def reminders_of(
    session: aiohttp.ClientSession, base: str, event_id: str
) -> list[dict[str, Any]]:
    async with session.get(f"{base}/events/{event_id}/reminders") as response:
        assert response.status == 200, await response.text()
        reminders: list[dict[str, Any]] = (await response.json())["reminders"]
        return reminders


async def listed(session: aiohttp.ClientSession, base: str, state: str) -> list[dict[str, Any]]:
    """Return every reminder in `state` from GET /reminders, page by page."""
    items: list[dict[str, Any]] = []
    params = {"state": state, "limit": "1000"}
    while True:
        async with session.get(f"{base}/reminders", params=params) as response:
            assert response.status == 200, await response.text()
            page = await response.json()
        items += page["reminders"]
        if page["next_cursor"] is None:
            return items
        params["cursor"] = page["next_cursor"]


async def next_claim(client: redis.asyncio.Redis) -> None:
    """Block until the feed in Redis holds a `reminder` entry: a claim has been written."""
    after = b"0-0"
    async with asyncio.timeout(TIMEOUT):
        while True:
            answer = await client.xread({FEED: after}, block=1000)
            for _, entries in answer:
                for entry_id, fields in entries:
                    if fields[b"op"] == b"reminder":
                        return
                    after = entry_id


async def all_sent(session: aiohttp.ClientSession, base: str, event_id: str) -> bool:
    return all(r["state"] == "sent" for r in await reminders_of(session, base, event_id))


async def test_a_daemon_killed_just_after_a_claim_sends_that_reminder_once(
    own_redis: RedisServer, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    """SIGKILL as soon as the claim's feed entry is in Redis (whether the daemon pushed it to
    its subscribers first is a race either way): after a restart, a subscriber that stayed
    connected and one that was offline at the claim each get it once, and the restarted
    daemon sends the event's later reminder once too."""
    client = redis.asyncio.Redis.from_url(own_redis.url)
    daemon = await on_redis(own_redis, tmp_path).start()
    collectors: list[Collector] = []
    try:
        live = Collector(session, daemon.base)
        offline = Collector(session, daemon.base)
        collectors += [live, offline]
        await asyncio.gather(live.subscribed(), offline.subscribed())
        await offline.stop()  # it resumes from here after the restart
        since, epoch = offline.subscriber.position, offline.subscriber.epoch
        # Due in 3 s, while the daemon runs; the second one after the restart (on a slow
        # machine perhaps during it, and then sent late: once all the same).
        starts = wall_clock_us() + 12 * SECOND
        body = {"id": "standup", "title": "Standup", "timestamp": format_us(starts)}
        await post(session, daemon.base, body | {"remind": ["9s", "4s"]})
        await next_claim(client)
        assert daemon.process is not None
        daemon.process.kill()
        assert await asyncio.to_thread(daemon.process.wait, 30) == -9
        daemon.process = None
        # Claimed in Redis before the kill; the second still pending.
        assert await states_in_redis(client, "standup") == ["sent", "pending"]

        daemon = await on_redis(own_redis, tmp_path, port=daemon.port).start()
        resumed = Collector(session, daemon.base, since=since, epoch=epoch)
        collectors.append(resumed)
        await until(lambda: all_sent(session, daemon.base, "standup"), "both reminders sent")
        await post(session, daemon.base, {"id": "end"})
        await wait_for(lambda: live.saw("end") and resumed.saw("end"), "the end marker")
        assert live.received() == [("standup", 9), ("standup", 4)]
        assert resumed.received() == [("standup", 9), ("standup", 4)]
        assert [m["position"] for m in live.reminders] == [m["position"] for m in resumed.reminders]
        entries = await client.xrange(FEED)
        assert sum(fields[b"op"] == b"reminder" for _, fields in entries) == 2
    finally:
        for collector in collectors:
            await collector.stop()
        await daemon.__aexit__(None, None, None)
        await client.aclose()


async def states_in_redis(client: redis.asyncio.Redis, event_id: str) -> list[str]:
    """Return the states of an event's reminder records in Redis, in due order."""
    keys = Keys("eventd")
    members = await client.zrange(keys.reminders_of(event_id), 0, -1)
    states = [await client.hget(f"{keys.reminders}r:{m.decode()}", "state") for m in members]
    return [state.decode() for state in states]


async def test_downtime_across_due_times_sends_late_or_records_missed(
    own_redis: RedisServer, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    """Stopped before two reminders fall due, restarted after: the one whose event has not
    started is sent with `late: true`; the one whose event started meanwhile is `missed`."""
    daemon = await on_redis(own_redis, tmp_path).start()
    watcher = Collector(session, daemon.base)
    try:
        await watcher.subscribed()
        due = wall_clock_us() + 8 * SECOND
        await post(
            session,
            daemon.base,
            [
                {
                    "id": "later",
                    "title": "Later",
                    "timestamp": format_us(due + 30 * SECOND),
                    "remind": ["30s"],
                },
                {
                    "id": "soon",
                    "title": "Soon",
                    "timestamp": format_us(due + 2 * SECOND),
                    "remind": ["2s"],
                },
            ],
        )
        assert await daemon.stop() == 0
        assert wall_clock_us() < due, "the daemon stopped only after the due time"
        # Past `soon`'s start, and more than LATE_AFTER past the due time.
        await wall_clock_passes(due + 2 * SECOND)

        daemon = await on_redis(own_redis, tmp_path, port=daemon.port).start()
        await until(lambda: all_sent(session, daemon.base, "later"), "the late reminder sent")
        await post(session, daemon.base, {"id": "end"})
        await wait_for(lambda: watcher.saw("end"), "the end marker")
        [message] = watcher.reminders
        reminder = message["reminder"]
        assert (reminder["event_id"], reminder["offset_seconds"]) == ("later", 30)
        assert reminder["late"] is True
        assert reminder["due"] == format_us(due)
        assert 0 < reminder["starts_in_seconds"] < 30
        assert message["event"]["id"] == "later"
        [missed] = await listed(session, daemon.base, "missed")
        assert (missed["event_id"], missed["offset_seconds"]) == ("soon", 2)
        assert missed["due"] == format_us(due)
        assert [r["event_id"] for r in await listed(session, daemon.base, "sent")] == ["later"]
        assert await listed(session, daemon.base, "pending") == []
    finally:
        await watcher.stop()
        await daemon.__aexit__(None, None, None)


COUNT = 1000
SPREAD = 3000  # µs between consecutive due times: 1,000 reminders over 3 s


async def test_two_daemons_send_each_of_1000_reminders_once_to_every_subscriber(
    own_redis: RedisServer, tmp_path: Path, session: aiohttp.ClientSession
) -> None:
    """Two daemons on one Redis both claim (each claim is one Lua script); two subscribers
    on each daemon get every one of 1,000 reminders exactly once, at the same positions."""
    async with on_redis(own_redis, tmp_path) as a, on_redis(own_redis, tmp_path) as b:
        collectors = [Collector(session, daemon.base) for daemon in (a, b, a, b)]
        try:
            await asyncio.gather(*(collector.subscribed() for collector in collectors))
            first_due = wall_clock_us() + 4 * SECOND
            events = [
                {
                    "id": f"e{i}",
                    "title": f"Event {i}",
                    "timestamp": format_us(first_due + i * SPREAD + 10 * SECOND),
                    "remind": ["10s"],
                }
                for i in range(COUNT)
            ]
            await post(session, a.base, events)
            await wait_for(
                lambda: all(c.check() or len(c.counts) == COUNT for c in collectors),
                f"{COUNT} reminders at every subscriber",
            )

            async def none_pending() -> bool:
                return await listed(session, b.base, "pending") == []

            await until(none_pending, "no reminder left pending")
            await post(session, b.base, {"id": "end"})
            await wait_for(lambda: all(c.saw("end") for c in collectors), "the end marker")
            once = Counter({(f"e{i}", 10): 1 for i in range(COUNT)})
            for collector in collectors:
                assert collector.counts == once
            positions = [[m["position"] for m in c.reminders] for c in collectors]
            assert all(p == positions[0] for p in positions)
            assert len(await listed(session, a.base, "sent")) == COUNT
            assert await listed(session, a.base, "missed") == []
        finally:
            for collector in collectors:
                await collector.stop()
