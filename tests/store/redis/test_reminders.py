"""Redis-specific reminder behaviour: claims shared by daemons, crashes, exact times, chunks.

The contract itself is checked on every engine by tests/store/test_reminders.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from eventd.config import Config, RemindersConfig
from eventd.model import NULL, Event
from eventd.store.base import LATE_AFTER, Engine, Reminder, ReminderQuery, StorageError
from eventd.store.commands import ClaimDue, EventReminders, ListReminders, NextDue, PutMany
from eventd.store.redis import reminders as redis_reminders
from eventd.store.redis.engine import ARM_CHUNK, CHUNK, RedisEngine
from eventd.store.redis.packing import change, reminder_member, wanted_reminders
from eventd.store.worker import StoreWorker
from eventd.times import MAX_US, MIN_US, parse_timestamp
from tests.redis_server import RedisServer

pytestmark = pytest.mark.redis

SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
W = parse_timestamp("2025-01-01T00:00:00Z", None)  # when the events are written
T = W + HOUR  # when the first starts
GRACE = HOUR
STATES = ("pending", "sent", "missed", "cancelled")


def ev(id: str, ts: int = T, *, updated: int = W, **fields: Any) -> Event:
    values: dict[str, Any] = dict(
        type="meeting", key=None, title=None, description=None, value=None, remind=None
    )
    values.update(fields)
    return Event(id=id, ts=ts, seq=-1, data=NULL, created=updated, updated=updated, **values)


@pytest.fixture
async def engine(redis_engine: RedisEngine) -> AsyncIterator[RedisEngine]:
    await redis_engine.open()
    yield redis_engine
    await redis_engine.close()


@pytest.fixture
def raw(redis_server: RedisServer) -> Iterator[redis.Redis]:
    with redis.Redis.from_url(redis_server.url) as client:
        yield client


def feed_reminders(engine: Engine, raw: redis.Redis, namespace: str) -> list[Reminder]:
    """Return the reminders of the feed's `reminder` entries, read as the engine reads them."""
    entries = raw.xrange(f"{{{namespace}}}:feed", "-", "+")
    changes = [change([id, [x for kv in fields.items() for x in kv]]) for id, fields in entries]
    return [c.reminder for c in changes if c.reminder is not None]


def check_consistent(raw: redis.Redis, namespace: str) -> dict[str, list[bytes]]:
    """Check that every reminder is in exactly the state set its record names, and that the
    sent ones and the feed's reminder entries are the same; return the members by state."""
    prefix = f"{{{namespace}}}:rem:"
    members = {state: raw.zrange(prefix + state, 0, -1) for state in STATES}
    seen = Counter(m for state in STATES for m in members[state])
    assert all(count == 1 for count in seen.values())
    for state in STATES:
        for member in members[state]:
            assert raw.hget(prefix.encode() + b"r:" + member, "state") == state.encode()
    for state in STATES:  # the filtered sets hold exactly the state's records of their filter
        filed: dict[bytes, set[bytes]] = {}
        base = f"{prefix}ix:{state}:".encode()
        for member in members[state]:
            type, key = raw.hmget(prefix.encode() + b"r:" + member, "type", "key")
            names = [base + b"t:" + type]
            if key is not None:
                names += [base + b"k:" + key, base + b"tk:%d:%b:%b" % (len(type), type, key)]
            for name in names:
                filed.setdefault(name, set()).add(member)
        stored = {k: set(raw.zrange(k, 0, -1)) for k in raw.scan_iter(match=base + b"*")}
        assert stored == filed
    entries = raw.xrange(f"{{{namespace}}}:feed", "-", "+")
    in_feed = {fields[b"reminder"]: id for id, fields in entries if fields[b"op"] == b"reminder"}
    assert set(in_feed) == set(members["sent"])
    for member, id in in_feed.items():
        position = raw.hget(prefix.encode() + b"r:" + member, "position")
        assert position is not None and id == position + b"-0"
    return members


def commands_run(raw: redis.Redis) -> int:
    """Return how many commands Redis ran, inside scripts too, since the last call."""
    stats = raw.info("commandstats")
    raw.config_resetstat()
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_config",))


async def test_two_engines_claiming_together_claim_each_reminder_once(
    engine: RedisEngine, redis_twin: Callable[[], Engine], raw: redis.Redis, redis_namespace: str
) -> None:
    events = [ev(f"e{i:04d}", T + i * SECOND, remind=(300, 60)) for i in range(500)]
    await engine.put_many(events)
    twin = redis_twin()
    await twin.open()
    assert isinstance(twin, RedisEngine)
    claims: dict[str, list[Reminder]] = {"one": [], "two": []}

    async def claim_all(name: str, claimer: RedisEngine) -> None:
        for step in range(0, 800, 25):  # the clock advances; both race for the same head
            now = T - 5 * MINUTE + step * SECOND
            while got := await claimer.claim_due(now, 7, GRACE):
                claims[name] += got

    try:
        await asyncio.gather(claim_all("one", engine), claim_all("two", twin))
        assert await twin.claim_due(T + HOUR, 1000, GRACE) == []
    finally:
        await twin.close()
    both = claims["one"] + claims["two"]
    assert claims["one"] and claims["two"]  # both daemons did claim some
    identities = Counter((r.event_id, r.ts, r.offset) for r in both)
    assert len(identities) == 1000 and set(identities.values()) == {1}
    assert all(r.state == "sent" for r in both)
    sent = sorted(both, key=lambda r: r.position or 0)
    assert feed_reminders(engine, raw, redis_namespace) == sent
    members = check_consistent(raw, redis_namespace)
    assert len(members["sent"]) == 1000 and not members["pending"]


async def test_claims_and_writes_interleaved_keep_every_record_in_one_state(
    engine: RedisEngine, redis_twin: Callable[[], Engine], raw: redis.Redis, redis_namespace: str
) -> None:
    await engine.put_many([ev(f"e{i:03d}", T + i * SECOND) for i in range(300)])
    twin = redis_twin()
    await twin.open()
    assert isinstance(twin, RedisEngine)

    async def edit() -> None:
        for i in range(0, 300, 3):  # move, re-time and delete while the other daemon claims
            await engine.update(f"e{i:03d}", {"ts": T + HOUR + i}, W + SECOND)
            await engine.update(f"e{i + 1:03d}", {"remind": (600, 60)}, W + SECOND)
            await engine.delete(f"e{i + 2:03d}")

    async def claim() -> None:
        for step in range(0, 300, 10):
            await twin.claim_due(T - 5 * MINUTE + step * SECOND, 5, GRACE)

    try:
        await asyncio.gather(edit(), claim())
        await twin.claim_due(T + HOUR - 1, 10_000, 3 * HOUR)
    finally:
        await twin.close()
    members = check_consistent(raw, redis_namespace)
    assert not members["pending"]
    for i in range(0, 300, 3):  # each moved event's new reminder went out
        sent = [r.ts for r in await engine.event_reminders(f"e{i:03d}") if r.state == "sent"]
        assert sent in ([T + HOUR + i], [T + i * SECOND, T + HOUR + i])


async def test_a_claim_survives_a_redis_crash_whole(tmp_path: Path) -> None:
    # With every write fsynced, a SIGKILL of Redis right after a claim keeps all of it: the
    # script's writes are one transaction in the append-only file.
    server = RedisServer(tmp_path, durable=True)
    server.start()
    try:
        engine = RedisEngine(server.url, namespace="crash")
        await engine.open()
        await engine.put_many([ev(f"e{i:03d}", T + i) for i in range(200)])
        claimed = await engine.claim_due(T, 200, GRACE)
        await engine.close()
        await asyncio.to_thread(server.stop, kill=True)
        await asyncio.to_thread(server.start)
        again = RedisEngine(server.url, namespace="crash")
        await again.open()
        try:
            assert await again.claim_due(T + HOUR, 1000, GRACE) == []
            stored = [r for i in range(200) for r in await again.event_reminders(f"e{i:03d}")]
            feed = (await again.read_changes(0, 1000)).changes
        finally:
            await again.close()
        assert stored == claimed and len(claimed) == 200
        assert [c.reminder for c in feed if c.reminder] == [r for r in claimed if r.position]
        with redis.Redis.from_url(server.url) as client:
            check_consistent(client, "crash")
    finally:
        server.stop()


CLAIMER = """
import asyncio, os, signal, sys
from eventd.store.redis.engine import RedisEngine

async def main():
    engine = RedisEngine(sys.argv[1], namespace=sys.argv[2])
    await engine.open()
    claimed = await engine.claim_due(int(sys.argv[3]), 1000, 3600 * 10**6)
    print(len(claimed), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no goodbye: as a daemon killed

asyncio.run(main())
"""


async def test_a_daemon_killed_right_after_its_claim_leaves_it_done(
    engine: RedisEngine, redis_server: RedisServer, redis_namespace: str, raw: redis.Redis
) -> None:
    await engine.put_many([ev(f"e{i:02d}", T + i) for i in range(50)])
    args = [sys.executable, "-c", CLAIMER, redis_server.url, redis_namespace, str(T - 1)]
    done = await asyncio.to_thread(subprocess.run, args, capture_output=True, timeout=60)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == [b"50"]
    # Its feed entries are there for every daemon's subscribers, and nothing is claimed twice.
    assert len(feed_reminders(engine, raw, redis_namespace)) == 50
    assert await engine.claim_due(T + HOUR, 1000, GRACE) == []
    check_consistent(raw, redis_namespace)


async def test_a_claim_whose_reply_is_lost_is_sent_once_when_retried(
    engine: RedisEngine, raw: redis.Redis, redis_namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await engine.put_many([ev("a"), ev("b", T + HOUR)])
    run_claim = engine._reminders._claim

    async def reply_lost(**kwargs: Any) -> Any:
        await run_claim(**kwargs)  # Redis ran the script: the reminder is claimed
        raise redis.exceptions.TimeoutError("Timeout reading from socket")

    monkeypatch.setattr(engine._reminders, "_claim", reply_lost)
    with pytest.raises(StorageError):
        await engine.claim_due(T - 5 * MINUTE, 10, GRACE)
    monkeypatch.undo()
    assert await engine.claim_due(T - 5 * MINUTE, 10, GRACE) == []  # the retry finds it done
    [sent] = feed_reminders(engine, raw, redis_namespace)
    assert (sent.event_id, sent.state) == ("a", "sent")
    assert await engine.event_reminders("a") == [sent]
    feed = (await engine.read_changes(0, 100)).changes
    assert [c.reminder for c in feed if c.op == "reminder"] == [sent]
    members = check_consistent(raw, redis_namespace)
    assert len(members["sent"]) == 1 and len(members["pending"]) == 1  # b's, not yet due


@pytest.mark.parametrize(
    ("ts", "updated", "offset"),
    [
        (MIN_US + MINUTE, MIN_US, 366 * 86_400),  # due long before year 1: negative, shifted
        (MAX_US, MAX_US - 3 * SECOND, 2),  # year 9999: past 2**53 µs, where doubles skip
    ],
    ids=["year-1", "year-9999"],
)
async def test_times_are_exact_across_the_whole_range(
    engine: RedisEngine, ts: int, updated: int, offset: int
) -> None:
    due = ts - offset * SECOND
    # Two events a microsecond apart: a double score could not tell their dues apart.
    await engine.put_many(
        [
            ev("b", ts, updated=updated, remind=(offset,)),
            ev("a", ts - 1, updated=updated, remind=(offset,)),
        ]
    )
    assert await engine.next_due() == due - 1
    assert await engine.claim_due(due - 2, 10, GRACE) == []
    [first] = await engine.claim_due(due - 1, 10, GRACE)
    assert (first.event_id, first.due, first.ts, first.state) == ("a", due - 1, ts - 1, "sent")
    assert await engine.next_due() == due
    # Lateness at a microsecond's precision: max(due, armed) + LATE_AFTER is not yet late.
    start = max(due, updated)
    [second] = await engine.claim_due(start + LATE_AFTER, 10, LATE_AFTER + SECOND)
    assert (second.event_id, second.late, second.sent_at) == ("b", False, start + LATE_AFTER)
    assert [r.event_id for r in (await engine.list_reminders(ReminderQuery("sent"))).reminders] == [
        "a",
        "b",
    ]


async def test_a_claim_larger_than_a_chunk_takes_several_scripts_in_due_order(
    engine: RedisEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_reminders, "CLAIM_CHUNK", 7)
    await engine.put_many([ev(f"e{i:02d}", T + i) for i in range(30)])
    trips: list[None] = []
    engine.on_round_trip = lambda: trips.append(None)
    claimed = await engine.claim_due(T, 23, GRACE)
    assert [r.event_id for r in claimed] == [f"e{i:02d}" for i in range(23)]
    assert len(trips) == 4  # 7 + 7 + 7 + 2, each script a round trip of its own
    assert len(await engine.claim_due(T, 100, GRACE)) == 7
    assert engine.written_position == max(r.position or 0 for r in claimed) + 7


async def test_a_filtered_list_pages_through_its_own_index(engine: RedisEngine) -> None:
    await engine.put_many(
        [ev(f"e{i:02d}", T + i, type="deploy" if i % 5 == 0 else "meeting") for i in range(40)]
    )
    trips: list[None] = []
    engine.on_round_trip = lambda: trips.append(None)
    pages: list[list[str]] = []
    query = ReminderQuery(type="deploy", limit=3)
    while True:
        page = await engine.list_reminders(query)
        pages.append([r.event_id for r in page.reminders])
        if not page.more:
            break
        query = ReminderQuery(type="deploy", limit=3, after=page.reminders[-1].order)
    assert [id for page in pages for id in page] == [f"e{i:02d}" for i in range(0, 40, 5)]
    assert len(trips) == len(pages) == 3  # one round trip a page


@pytest.mark.parametrize(
    "filters",
    [{"type": "rare"}, {"key": "k"}, {"type": "rare", "key": "k"}, {"type": "rare", "key": "j"}],
)
async def test_a_filtered_list_reads_no_reminder_of_other_types_or_keys(
    engine: RedisEngine, raw: redis.Redis, redis_namespace: str, filters: dict[str, str]
) -> None:
    events = [ev(f"m{i:04d}", T + i, key="j") for i in range(3000)]
    await engine.put_many([*events, ev("z", T + HOUR, type="rare", key="k")])
    # Its pending reminder follows it into the indexes of its new type and key.
    await engine.update("m0001", {"type": "rare", "key": "k"}, W + 1)
    await engine.claim_due(T - 5 * MINUTE + 1, 10, GRACE)  # m0000 and m0001 are sent
    trips: list[None] = []
    engine.on_round_trip = lambda: trips.append(None)
    pending = await engine.list_reminders(ReminderQuery(limit=1, **filters))
    sent = await engine.list_reminders(ReminderQuery(limit=5, state="sent", **filters))
    assert len(trips) == 2  # was 4: the pending page read its state's 3,000 records
    if filters.get("key") == "j":
        assert pending.reminders == [] and sent.reminders == []
    else:
        assert [r.event_id for r in pending.reminders] == ["z"] and not pending.more
        assert [r.event_id for r in sent.reminders] == ["m0001"] and not sent.more
    check_consistent(raw, redis_namespace)


async def test_a_batch_larger_than_a_chunk_arms_every_reminder(engine: RedisEngine) -> None:
    count = CHUNK * 2 + 10
    await engine.put_many([ev(f"e{i:05d}", T + i, remind=(600, 60)) for i in range(count)])
    page = await engine.list_reminders(ReminderQuery(limit=3 * count))
    assert len(page.reminders) == 2 * count and not page.more
    assert await engine.next_due() == T - 10 * MINUTE


async def test_no_insert_script_arms_more_than_a_chunk_of_reminders(
    engine: RedisEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 16 offsets each: a chunk of CHUNK events would arm 16 * CHUNK reminders in one script.
    offsets = tuple(range(60, 17 * 60, 60))
    events = [ev(f"e{i:05d}", T + i, remind=offsets) for i in range(CHUNK)]
    armed: list[int] = []
    insert_chunk = engine._insert_chunk

    async def counted(chunk: list[Event]) -> list[str]:
        armed.append(sum(len(wanted_reminders(e, engine.default_offsets)) for e in chunk))
        return await insert_chunk(chunk)

    monkeypatch.setattr(engine, "_insert_chunk", counted)
    await engine.put_many(events)
    assert sum(armed) == 16 * CHUNK
    assert max(armed) <= ARM_CHUNK  # was 32,000 in one script
    page = await engine.list_reminders(ReminderQuery(limit=20 * CHUNK))
    assert len(page.reminders) == 16 * CHUNK


async def test_an_edit_reads_the_pending_reminders_not_the_history(
    engine: RedisEngine, raw: redis.Redis
) -> None:
    offsets = tuple(range(60, 17 * 60, 60))  # 16 offsets
    await engine.put_many([ev("a", remind=offsets)])
    costs = []
    for moves in (10, 100):  # each move cancels 16 reminders, which stay in the history
        while len(await engine.event_reminders("a")) < 16 * (moves + 1):
            await engine.update("a", {"ts": T + len(await engine.event_reminders("a"))}, W + 1)
        commands_run(raw)
        await engine.update("a", {"title": f"after {moves}"}, W + 2)
        costs.append(commands_run(raw))
    # The same commands after 100 moves as after 10 (was one ZREM per member of the history).
    assert costs[0] == costs[1] < 100, costs
    await engine.delete("a")
    states = Counter(r.state for r in await engine.event_reminders("a"))
    assert states == {"cancelled": 16 * 101}


async def test_clear_leaves_no_reminder_key(
    engine: RedisEngine, raw: redis.Redis, redis_namespace: str
) -> None:
    await engine.put_many([ev(f"e{i}", T + i, remind=(600, 60)) for i in range(20)])
    await engine.claim_due(T - 10 * MINUTE, 5, GRACE)
    await engine.delete("e19")
    await engine.clear()
    assert raw.keys(f"{{{redis_namespace}}}:rem*") == []


async def test_a_claim_during_a_clear_drops_reminders_whose_event_is_gone(
    engine: RedisEngine, raw: redis.Redis, redis_namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    # A clear deletes keys a page at a time: another daemon may claim in between.
    await engine.put_many([ev("a"), ev("b", T + 1), ev("c", T + 2)])
    raw.hdel(f"{{{redis_namespace}}}:events", "a")
    record = f"{{{redis_namespace}}}:rem:r:" + reminder_member((T + 1 - 5 * MINUTE, "b", 300))
    assert raw.delete(record) == 1
    position = (await engine.read_changes(0, 0)).head
    claimed = await engine.claim_due(T, 10, GRACE)
    assert [(r.event_id, r.state) for r in claimed] == [("c", "sent")]
    assert await engine.event_reminders("a") == []
    assert [c.op for c in (await engine.read_changes(position, 10)).changes] == ["reminder"]
    # Not only a clear does that: eviction or data loss too, which an operator must hear of.
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.name == "eventd.store.redis.reminders"
    assert "dropped 2 due reminder(s)" in warning.getMessage()
    assert "a@" in warning.getMessage() and "b@" in warning.getMessage()


async def test_an_edit_during_a_clear_drops_a_pending_reminder_whose_record_is_gone(
    engine: RedisEngine, raw: redis.Redis, redis_namespace: str
) -> None:
    # A clear deletes keys a page at a time: an edit may find the record of a pending one gone.
    await engine.put_many([ev("a", key="k", remind=(600, 60))])
    record = f"{{{redis_namespace}}}:rem:r:" + reminder_member((T - 10 * MINUTE, "a", 600))
    assert raw.delete(record) == 1
    await engine.update("a", {"ts": T + HOUR}, W + 1)
    assert [(r.due, r.state) for r in await engine.event_reminders("a")] == [
        (T - MINUTE, "cancelled"),  # the one without a record is no longer listed
        (T + HOUR - 10 * MINUTE, "pending"),
        (T + HOUR - MINUTE, "pending"),
    ]
    # Its filtered sets keep it (its type and key went with its record) until the clear
    # deletes them; the due index and the event's pending set do not.
    gone = record.split(":rem:r:", 1)[1].encode()
    prefix = f"{{{redis_namespace}}}:rem:"
    assert raw.zscore(prefix + "pending", gone) is None
    assert not raw.sismember(prefix + "pend:a", gone)


async def test_reminders_read_the_same_over_resp3(
    redis_server: RedisServer, redis_namespace: str
) -> None:
    engine = RedisEngine(f"{redis_server.url}?protocol=3", namespace=redis_namespace)
    await engine.open()
    try:
        await engine.put_many([ev("a", key="k"), ev("b", T + 1)])
        assert await engine.next_due() == T - 5 * MINUTE
        claimed = await engine.claim_due(T - 5 * MINUTE + 1, 10, GRACE)
        page = await engine.list_reminders(ReminderQuery("sent"))
        of_a = await engine.event_reminders("a")
        feed = await engine.wait_changes(2, block=0.1)
    finally:
        await engine.close()
    assert [(r.event_id, r.key, r.state) for r in claimed] == [
        ("a", "k", "sent"),
        ("b", None, "sent"),
    ]
    assert page.reminders == claimed and of_a == claimed[:1]
    assert [c.reminder for c in feed] == claimed


def test_the_engine_takes_its_default_offsets_from_the_configuration() -> None:
    config = dataclasses.replace(Config(), reminders=RemindersConfig(default_offsets="5m,1h"))
    assert RedisEngine.from_config(config).default_offsets == (3600, 300)


async def test_the_store_worker_runs_the_reminder_commands_on_redis(
    redis_engine: RedisEngine,
) -> None:
    worker = StoreWorker(redis_engine)
    await worker.start()
    try:
        await worker.call(PutMany([ev("a", key="k"), ev("b", T + HOUR)]))
        assert await worker.call(NextDue()) == T - 5 * MINUTE
        [sent] = await worker.call(ClaimDue(T - 5 * MINUTE, 10, GRACE))
        assert worker.written_position == sent.position
        page = await worker.call(ListReminders(ReminderQuery(key="k", state="sent")))
        assert page.reminders == [sent]
        assert await worker.call(EventReminders("a")) == [sent]
    finally:
        await worker.stop(drain_timeout=5)
