"""The mongo engine's own reminder behaviour: claims by several engines on one database, and
what a claim finds after a crash or beside an edit.

These run on mongomock-motor (no MongoDB server exists here). Its calls run synchronously
inside each coroutine, so two engines never interleave on their own: `Interleaved` hands the
loop over before every call, and two claim loops then alternate call by call, as two daemons
on one server would. mongomock has no query planner either: that the due reminders come from
the index is checked only on a server (EVENTD_TEST_MONGODB_URL).
"""

from __future__ import annotations

import asyncio
import inspect
from collections import Counter
from typing import Any

import pytest
from mongomock_motor import AsyncMongoMockClient
from pymongo.errors import AutoReconnect

from eventd.config import Config, RemindersConfig
from eventd.model import NULL, Event
from eventd.store.base import Reminder, ReminderQuery, StorageError
from eventd.store.mongo import MongoEngine, reminders
from eventd.store.mongo.documents import settle
from eventd.store.mongo.reminders import DUE_ORDER, LEASE, due_by
from eventd.times import parse_timestamp
from tests.engines import MONGODB_URL

pytestmark = pytest.mark.mongo

SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
W = parse_timestamp("2025-01-01T00:00:00Z", None)  # when the events are written
T = W + HOUR  # when they start
DUE = T - 5 * MINUTE


class Interleaved:
    """A mongomock client, database or collection whose async calls first yield to the loop."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getitem__(self, name: str) -> Interleaved:
        return Interleaved(self._target[name])

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not inspect.iscoroutinefunction(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            await asyncio.sleep(0)  # a yield to the other engine's task, not a wait
            return await attr(*args, **kwargs)

        return call


def ev(id: str, ts: int = T, **fields: Any) -> Event:
    values: dict[str, Any] = dict(
        type="meeting", key=None, title=None, description=None, value=None, data=NULL
    )
    values.update(fields)
    values.setdefault("remind", None)
    return Event(id=id, ts=ts, seq=-1, created=W, updated=W, **values)


@pytest.fixture
def client() -> Any:
    return Interleaved(AsyncMongoMockClient())


@pytest.fixture
async def engines(client: Any) -> Any:
    """Two engines on one database: two daemons' views of one store."""
    pair = [MongoEngine("mongodb://mock", client=client) for _ in range(2)]
    for engine in pair:
        await engine.open()
    yield pair
    for engine in pair:
        await engine.close()


async def claim_all(engine: MongoEngine, now: int) -> list[Reminder]:
    """Claim until nothing is due, a few at a time, as the reminders service does."""
    claimed: list[Reminder] = []
    # A batch may come back empty while more are due: another engine won all its claims.
    while (due := await engine.next_due()) is not None and due <= now:
        claimed += await engine.claim_due(now, 7, HOUR)
    return claimed


async def test_two_engines_claiming_together_claim_each_reminder_once(engines: Any) -> None:
    one, other = engines
    events = [ev(f"e{i:03}", T + i * SECOND, remind=(300, 60)) for i in range(60)]
    await one.put_many(events)
    start = (await one.read_changes(0, 0)).head
    first, second = await asyncio.gather(claim_all(one, T), claim_all(other, T))
    assert first and second  # both took part
    claimed = Counter((r.event_id, r.offset) for r in first + second)
    assert set(claimed.values()) == {1} and len(claimed) == 120
    sent = [r for r in first + second if r.state == "sent"]
    feed = (await one.read_changes(start, 1000)).changes
    assert sorted((c.reminder.event_id, c.reminder.offset) for c in feed if c.reminder) == sorted(
        (r.event_id, r.offset) for r in sent
    )
    assert [c.position for c in feed] == list(range(start + 1, start + 1 + len(feed)))
    assert await one.next_due() is None
    assert (await one.list_reminders(ReminderQuery())).reminders == []


async def test_a_claim_that_stopped_after_its_record_is_finished_by_a_later_claim(
    engines: Any,
) -> None:
    one, other = engines
    await one.put_many([ev("a"), ev("b", T + SECOND)])
    # A daemon inserted the record of "a" (its claim) and stopped before taking the entry
    # out of the document and appending the feed entry.
    [pending, _] = (await one.list_reminders(ReminderQuery())).reminders
    assert await one._book._claim(settle(pending, DUE, HOUR), "stopped")
    assert await other.next_due() == DUE
    start = (await other.read_changes(0, 0)).head
    claimed = await other.claim_due(DUE + SECOND, 10, HOUR)
    assert [r.event_id for r in claimed] == ["b"]
    # That claim may be another daemon's still running: it is finished once its lease is out.
    assert await other.next_due() == DUE + LEASE
    [finished] = await other.claim_due(DUE + LEASE + SECOND, 10, HOUR)
    assert (finished.event_id, finished.state) == ("a", "sent")
    feed = (await other.read_changes(start, 100)).changes
    assert [c.reminder.event_id for c in feed if c.reminder] == ["b", "a"]
    assert [c.position for c in feed] == [start + 1, start + 2]
    assert feed[1].reminder == finished and finished.position == start + 2
    assert await other.event_reminders("a") == [finished]
    assert await other.next_due() is None
    assert await one.claim_due(DUE + 3 * LEASE, 10, HOUR) == []


class Flaky:
    """Make one call of a collection's method fail once, with `error`, then work again."""

    def __init__(self, collection: Any, method: str, error: BaseException) -> None:
        self.original = getattr(collection, method)
        self.error: BaseException | None = error
        setattr(collection, method, self)

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return await self.original(*args, **kwargs)


@pytest.mark.parametrize(
    "method",
    ["insert_many", "update_many"],
    ids=["feed_entry", "finished_mark"],
)
@pytest.mark.parametrize(
    "error",
    [AutoReconnect("connection reset"), asyncio.CancelledError()],
    ids=["transient", "cancelled"],
)
async def test_a_claim_cut_short_after_its_record_is_sent_once_by_the_next(
    engines: Any, method: str, error: BaseException
) -> None:
    one, other = engines
    await one.put_many([ev("a"), ev("b", T + SECOND)])
    start = (await one.read_changes(0, 0)).head
    target = one._feed if method == "insert_many" else one._book._records
    Flaky(target, method, error)
    with pytest.raises((StorageError, asyncio.CancelledError)):
        await one.claim_due(DUE + SECOND, 10, HOUR)
    assert await other.claim_due(DUE + 2 * SECOND, 10, HOUR) == []  # not another's to finish
    assert await one.next_due() == DUE + SECOND  # this engine's own: at once
    finished = await one.claim_due(DUE + 2 * SECOND, 10, HOUR)
    assert sorted((r.event_id, r.state) for r in finished) == [("a", "sent"), ("b", "sent")]
    await one.put_many([ev("c", T + HOUR)])
    feed = (await one.read_changes(start, 100)).changes
    # Each once, and no position left a hole.
    assert sorted(c.reminder.event_id for c in feed if c.reminder) == ["a", "b"]
    assert [c.position for c in feed] == [start + 1, start + 2, start + 3]
    assert {r.position for r in finished} == {start + 1, start + 2}
    assert await one.next_due() == DUE + HOUR
    assert await one.claim_due(DUE + 3 * LEASE, 10, HOUR) == []


async def test_a_claim_whose_take_out_gave_up_is_finished_by_the_next(engines: Any) -> None:
    one, _ = engines
    await one.put_many([ev("a")])
    Flaky(one._events, "update_one", AutoReconnect("connection reset"))
    with pytest.raises(StorageError):
        await one.claim_due(DUE, 10, HOUR)
    [sent] = await one.claim_due(DUE + SECOND, 10, HOUR)
    assert sent.state == "sent" and sent.position is not None
    assert await one.event_reminders("a") == [sent]
    assert await one.next_due() is None


async def test_a_clear_cut_short_leaves_no_record_that_blocks_a_recreated_event(
    engines: Any,
) -> None:
    one, _ = engines
    await one.put_many([ev("a")])
    await one.claim_due(DUE, 10, HOUR)
    # The second of the clear's two deletions fails, whichever it is.
    calls: list[str] = []
    for collection in (one._events, one._book._records):
        original = collection.delete_many

        async def second_fails(*args: Any, original: Any = original, **kwargs: Any) -> Any:
            calls.append("delete_many")
            if len(calls) == 2:
                raise AutoReconnect("connection reset")
            return await original(*args, **kwargs)

        collection.delete_many = second_fails
    with pytest.raises(StorageError):
        await one.clear()
    if await one.get("a") is not None:
        await one.clear()  # cut short before the events: a clear again finishes it
    await one.put_many([ev("a")])  # the same id and timestamp, created again
    assert [r.state for r in await one.event_reminders("a")] == ["pending"]


async def test_a_put_undone_beside_a_claim_leaves_nothing(engines: Any) -> None:
    one, other = engines
    await one.put_many([ev("x")])
    bulk_write = one._events.bulk_write

    async def claimed_between(*args: Any, **kwargs: Any) -> Any:
        try:
            return await bulk_write(*args, **kwargs)
        finally:
            # The other daemon claims the new event's reminder before the put undoes it.
            await other.claim_due(DUE, 10, HOUR)

    one._events.bulk_write = claimed_between
    results = await one.put_many([ev("new"), ev("x")])
    # The undo took out this put's own document: "new" is created by the put's next try.
    assert [r.created for r in results] == [True, False]
    [doc] = await one._events.find({"_id": "new"}).to_list(None)
    assert doc["seq"] == results[0].event.seq


async def test_a_write_reads_records_in_chunks_and_at_the_current_time_only(
    engines: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, _ = engines
    await one.put_many([ev("a", remind=(300, 60))])
    for hours in range(1, 4):  # each move leaves cancelled records at the old time
        await one.update("a", {"ts": T + hours * HOUR}, W)
    monkeypatch.setattr(reminders, "STATES_CHUNK", 2, raising=False)
    records = one._book._records
    find = records.find
    read: list[list[tuple[str, int]]] = []

    def spied(*args: Any, **kwargs: Any) -> Any:
        cursor = find(*args, **kwargs)

        async def docs() -> Any:
            found = [doc async for doc in cursor]
            read.append([(doc["e"], doc["t"]) for doc in found])
            for doc in found:
                yield doc

        return docs()

    records.find = spied
    await one.update("a", {"remind": (300, 60, 30)}, W)  # one more to arm: records are read
    assert read == [[]]  # none at the event's time: those it moved from are not read
    read.clear()
    await one.put_many([ev(f"n{i}") for i in range(5)])
    assert len(read) == 3  # 5 ids, 2 a chunk


async def test_a_listing_of_records_is_bounded_by_its_cursor_due_time(engines: Any) -> None:
    one, _ = engines
    await one.put_many([ev(f"e{i}", T + i * SECOND) for i in range(3)])
    await one.claim_due(DUE + 2 * SECOND, 10, HOUR)
    records = one._book._records
    find = records.find
    filters: list[dict[str, Any]] = []

    def spied(filter: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        filters.append(filter)
        return find(filter, *args, **kwargs)

    records.find = spied
    first = await one.list_reminders(ReminderQuery(state="sent", limit=1))
    page = await one.list_reminders(
        ReminderQuery(state="sent", after=first.reminders[0].order, limit=5)
    )
    assert [r.event_id for r in first.reminders + page.reminders] == ["e0", "e1", "e2"]
    assert {"d": {"$gte": first.reminders[0].due}} in filters[-1]["$and"]


async def test_a_claim_beside_a_move_is_undone(engines: Any) -> None:
    one, other = engines
    await one.put_many([ev("a")])
    book = one._book
    claim = book._claim

    async def moved_first(reminder: Reminder, token: str) -> bool:
        # The other daemon moves the event after this claim read it and before it claims.
        await other.update("a", {"ts": T + HOUR}, W + MINUTE)
        return bool(await claim(reminder, token))

    book._claim = moved_first
    start = (await one.read_changes(0, 0)).head
    assert await one.claim_due(DUE, 10, HOUR) == []
    feed = (await one.read_changes(start, 100)).changes
    assert [c.op for c in feed] == ["updated"]
    reminders = await one.event_reminders("a")
    assert [(r.ts, r.state) for r in reminders] == [(T, "cancelled"), (T + HOUR, "pending")]
    assert await one.next_due() == DUE + HOUR


async def test_a_claim_beside_a_delete_is_undone(engines: Any) -> None:
    one, other = engines
    await one.put_many([ev("a")])
    book = one._book
    claim = book._claim

    async def deleted_first(reminder: Reminder, token: str) -> bool:
        await other.delete("a")
        return bool(await claim(reminder, token))

    book._claim = deleted_first
    assert await one.claim_due(DUE, 10, HOUR) == []
    assert [r.state for r in await one.event_reminders("a")] == ["cancelled"]


async def test_a_claim_takes_over_a_stale_cancelled_record(engines: Any) -> None:
    one, _ = engines
    await one.put_many([ev("a")])
    # A write re-armed the reminder and stopped before deleting its cancelled record.
    await one._book._records.insert_one(
        {"e": "a", "t": T, "o": 300, "d": DUE, "a": W, "type": "meeting", "key": None}
        | {"s": "cancelled", "at": None, "late": False, "p": None, "c": None}
    )
    assert [r.state for r in await one.event_reminders("a")] == ["pending"]
    [sent] = await one.claim_due(DUE, 10, HOUR)
    assert sent.state == "sent" and sent.position is not None
    assert await one.event_reminders("a") == [sent]


async def test_pending_reminders_live_in_the_event_document(engines: Any) -> None:
    one, _ = engines
    await one.put_many([ev("a", remind=(600, 60)), ev("b", remind=())])
    doc = await one._events.find_one({"_id": "a"})
    assert doc["rem"] == [
        {"o": 600, "d": T - 10 * MINUTE, "a": W},
        {"o": 60, "d": T - MINUTE, "a": W},
    ]
    assert doc["rn"] == T - 10 * MINUTE
    assert "rn" not in await one._events.find_one({"_id": "b"})
    await one.claim_due(T - 10 * MINUTE, 10, HOUR)
    assert (await one._events.find_one({"_id": "a"}))["rn"] == T - MINUTE


async def test_the_indexes_of_reminders(engines: Any) -> None:
    one, _ = engines
    events = await one._events.index_information()
    assert [("rn", 1), ("_id", 1)] in [index["key"] for index in events.values()]
    records = await one._book._records.index_information()
    claims = [i for i in records.values() if i["key"] == [("e", 1), ("t", 1), ("o", 1)]]
    assert len(claims) == 1 and claims[0]["unique"]
    assert [("h", 1)] in [index["key"] for index in records.values()]
    for filters in (["s"], ["s", "type"], ["s", "key"], ["s", "type", "key"]):
        listing = [(name, 1) for name in [*filters, "d", "e", "o"]]
        assert listing in [index["key"] for index in records.values()]
    # The feed is by position only: a reminder's entry is kept once by its `_id` (below), and
    # a unique index on its identity would swallow the entry of an event created again after
    # a clear (tests/store/test_reminders.py).
    feed = await one._feed.index_information()
    assert all(index["key"] == [("_id", 1)] for index in feed.values())


async def test_a_reminder_feed_entry_is_inserted_once(engines: Any) -> None:
    one, _ = engines
    await one.put_many([ev("a")])
    start = (await one.read_changes(0, 0)).head
    [sent] = await one.claim_due(DUE, 10, HOUR)
    # The claim's record fixed the entry's position, its `_id`, before the insert.
    [record] = await one._book._records.find({"e": "a"}).to_list(None)
    assert record["p"] == sent.position
    [entry] = await one._feed.find({"_id": sent.position}).to_list(None)
    await one._book._fed([entry])  # a claim finishing it again: kept, not doubled
    # A claim placing it again (one that lost it to another's takeover) finds it placed.
    assert await one._book.send([(sent, await one.get("a"))]) == []
    feed = (await one.read_changes(start, 100)).changes
    assert [c.reminder for c in feed] == [sent]


async def test_a_claim_stalled_past_its_lease_and_its_taker_insert_one_feed_entry(
    engines: Any,
) -> None:
    one, other = engines
    await one.put_many([ev("a")])
    start = (await one.read_changes(0, 0)).head
    insert_many = one._feed.insert_many
    taken: list[Reminder] = []

    async def stalled(*args: Any, **kwargs: Any) -> Any:
        # `one` stalls past its lease just before its feed insert: `other` takes the claim
        # over and inserts the entry the record holds; then `one` inserts it too.
        taken.extend(await other.claim_due(DUE + LEASE + SECOND, 10, HOUR))
        return await insert_many(*args, **kwargs)

    one._feed.insert_many = stalled
    [sent] = await one.claim_due(DUE, 10, HOUR)
    assert [r.position for r in taken] == [sent.position]
    feed = (await one.read_changes(start, 100)).changes
    assert [(c.position, c.reminder) for c in feed] == [(sent.position, sent)]
    assert await one.event_reminders("a") == [sent]
    assert await other.next_due() is None


def test_from_config_passes_the_default_offsets() -> None:
    config = Config(reminders=RemindersConfig(default_offsets="5m,1h"))
    assert MongoEngine.from_config(config).default_offsets == (3600, 300)
    empty = Config(reminders=RemindersConfig(default_offsets=""))
    assert MongoEngine.from_config(empty).default_offsets == ()


def stages(plan: Any) -> list[dict[str, Any]]:
    """Return every stage of an explained plan, whatever its engine's layout."""
    found = []
    if isinstance(plan, dict):
        if "stage" in plan:
            found.append(plan)
        for value in plan.values():
            found += stages(value)
    elif isinstance(plan, list):
        for value in plan:
            found += stages(value)
    return found


@pytest.mark.skipif(not MONGODB_URL, reason="needs a MongoDB server: EVENTD_TEST_MONGODB_URL")
@pytest.mark.parametrize("now", [None, T], ids=["next_due", "claim_due"])
async def test_due_reminders_come_from_the_index_on_a_server(
    mongo_real_engine: Any, now: int | None
) -> None:
    # mongomock has no query planner: only a server tells which index a query uses.
    engine = mongo_real_engine
    await engine.open()
    try:
        await engine.put_many([ev(f"e{i}", T + i * SECOND) for i in range(20)])
        await engine.put_many([ev(f"none{i}", remind=()) for i in range(20)])
        cursor = engine._events.find(due_by(now)).sort(DUE_ORDER).limit(5)
        plan = (await cursor.explain())["queryPlanner"]["winningPlan"]
    finally:
        await engine.close()
    names = [stage["stage"] for stage in stages(plan)]
    assert "SORT" not in names and "COLLSCAN" not in names
    scans = [stage for stage in stages(plan) if stage["stage"] == "IXSCAN"]
    assert [dict(scan["keyPattern"]) for scan in scans] == [{"rn": 1, "_id": 1}]
