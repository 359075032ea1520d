"""The MongoDB engine, on motor: events, the change feed, and reminders (see the package)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Self

import msgspec
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import ASCENDING, InsertOne, ReturnDocument
from pymongo.errors import BulkWriteError, PyMongoError

from eventd.config import Config
from eventd.model import Event
from eventd.pacing import Work, paced, slices
from eventd.store.base import (
    Change,
    Engine,
    FeedPage,
    Op,
    Page,
    Pings,
    PutResult,
    Query,
    Reminder,
    ReminderPage,
    ReminderQuery,
    Reminders,
    StorageError,
    engine_options,
    new_epoch,
)
from eventd.store.mongo.documents import (
    change,
    from_document,
    pending_of,
    to_document,
    to_feed_entry,
)
from eventd.store.mongo.reminders import Arming, ReminderBook, entries
from eventd.store.mongo.search import Search
from eventd.store.puts import ATTEMPTS, insert_new, numbered
from eventd.store.where import FieldIndex

log = logging.getLogger(__name__)

_DUPLICATE_KEY = 11000
_INDEXES = (
    [("t", ASCENDING), ("seq", ASCENDING)],
    [("type", ASCENDING), ("t", ASCENDING), ("seq", ASCENDING)],
    [("key", ASCENDING), ("t", ASCENDING), ("seq", ASCENDING)],
    [("type", ASCENDING), ("key", ASCENDING), ("t", ASCENDING), ("seq", ASCENDING)],
)


class MongoEngine(Engine, Pings, Reminders):
    """Events in one MongoDB collection with compound `(…, t, seq)` indexes, and their
    reminders (the documents are described in the package's docstring).

    Without transactions, the writes of one operation land one after another, in this order:
    - a write of events: the events' documents (with their pending reminders), then the records
      of the reminders it cancelled (and the deletion of the cancelled records of those it armed
      again), then the feed entry. A crash in between loses the feed entry and those records:
      a cancelled reminder is gone from its document all the same and never fires, and a
      cancelled record left beside a pending reminder is taken over by its claim;
    - a claim: the record (`sent` or `missed`: the claim itself; a `sent` one is half-done,
      `h`, until its feed entry is in), then the entry taken out of the event's document, then
      a feed position reserved and written into the record with the feed entry to come, then
      the `reminder` feed entry, then the record marked finished. The entry is taken out
      before anything reaches the feed so that a claim sees an edit or a delete that came
      after it read the event: it undoes itself (its record becomes `cancelled`) rather than
      send a reminder for an old time.
    A crash (an error, a timeout, a stop) anywhere in a claim leaves a half-done record, and
    a later claim finishes it (`ReminderBook.finish`): this engine's own at once, another
    daemon's once its lease (`LEASE`) has run out. It takes the entry out if still there,
    undoes the claim if the event moved or went, or else inserts the feed entry at the
    record's position (reserving one first if it had none). A record gets its position once
    (only while it has none), and every claim that finishes it inserts the entry kept with
    it, whose `_id` is that position: an insert again fails on `_id`. So a sent reminder
    reaches the feed exactly once, only late: by the lease after a crash of another daemon.
    What a crash can still do: a position reserved by a claim that stopped before writing it
    into its record (or, for a claim stalled past its lease, lost to the claim that took it
    over) is never used, a hole in the feed; and a position whose entry came late may already
    be behind a hub that read past it. Either way the hub reports a gap and its subscribers
    resume from the feed.
    """

    name = "mongo"

    def __init__(
        self,
        url: str,
        *,
        database: str = "eventd",
        collection: str = "events",
        timeout: float = 2.0,
        first_seq: int = 1,
        history: int = 100_000,
        default_offsets: tuple[int, ...] = Reminders.default_offsets,
        indexed_fields: Sequence[str] = (),
        client: Any = None,
    ) -> None:
        self._history = history
        self.timeout = timeout
        ms = int(timeout * 1000)
        self._client = client or AsyncIOMotorClient(
            url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, socketTimeoutMS=ms
        )
        db = self._client[database]
        self._events = db[collection]
        self._counters = db[f"{collection}_counters"]
        self._feed = db[f"{collection}_feed"]
        self._cursor_meta = db[f"{collection}_meta"]
        self._cursor_secret: bytes | None = None
        self._first_seq = first_seq
        self._ready = False
        self.default_offsets = default_offsets
        self._search = Search(
            self._events, self._cursor_meta, FieldIndex(indexed_fields), self.round_trip, self._read
        )
        self._book = ReminderBook(
            self._events,
            db[f"{collection}_reminders"],
            default_offsets,
            self.round_trip,
            lambda count: self._reserve("feed", count),
            self._append,
        )

    @classmethod
    def from_config(cls, config: Config) -> Self:
        return cls(**engine_options(config, config.engine.mongo))

    async def open(self) -> None:
        try:
            await self._prepare()
        except StorageError as exc:
            # Start anyway: requests answer 503 until the server is reachable.
            log.warning("mongodb is not reachable at start-up: %s", exc)

    async def close(self) -> None:
        self._client.close()

    async def ping(self) -> None:
        async with _wrapped():
            await self._client.admin.command("ping")

    async def _prepare(self) -> None:
        """Create the indexes and the seq counter once the server is reachable."""
        if self._ready:
            return
        async with _wrapped():
            for keys in _INDEXES:
                await self._events.create_index(keys)
            # No index on a reminder's identity in the feed: the record fixes its entry's `_id`
            # (see the class docstring), and an event created again after a clear has the
            # same identity and a reminder of its own to send.
            await self._book.prepare()
            await self._search.sync()
            await self._counters.update_one(
                {"_id": "seq"}, {"$setOnInsert": {"value": self._first_seq - 1}}, upsert=True
            )
        self._ready = True

    def _read(self, count: int) -> None:
        self.events_read += count

    @asynccontextmanager
    async def _ready_and_wrapped(self) -> AsyncIterator[None]:
        await self._prepare()
        async with _wrapped():
            yield

    async def put_many(self, events: Sequence[Event]) -> list[PutResult]:
        async with self._ready_and_wrapped():
            return await insert_new(events, self._try_insert, self._read_stored, "mongodb")

    async def _read_stored(self, ids: list[str]) -> dict[str, Event]:
        cursor = self._events.find({"_id": {"$in": ids}})
        return {doc["_id"]: from_document(doc) async for doc in cursor}

    async def _reserve(self, name: str, count: int) -> int:
        """Reserve `count` numbers of the counter `name`; return the first."""
        counter = await self._counters.find_one_and_update(
            {"_id": name},
            {"$inc": {"value": count}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        self.round_trip()
        first: int = counter["value"] - count + 1
        return first

    async def feed_epoch(self) -> str:
        async with self._ready_and_wrapped():
            # Made by the first engine that asks on this store; kept with the counters.
            found = await self._counters.find_one_and_update(
                {"_id": "epoch"},
                {"$setOnInsert": {"value": new_epoch()}},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        if found is None:
            raise StorageError("mongodb: the feed's epoch vanished as it was made")
        epoch: str = found["value"]
        return epoch

    async def stored_epoch(self) -> str | None:
        async with self._ready_and_wrapped():
            found = await self._counters.find_one({"_id": "epoch"})
        return None if found is None else str(found["value"])

    async def renew_epoch(self, lost: str) -> str:
        async with self._ready_and_wrapped():
            # Only if still `lost`: daemons noticing the loss together agree on one epoch.
            await self._counters.update_one(
                {"_id": "epoch", "value": lost}, {"$set": {"value": new_epoch()}}
            )
        return await self.feed_epoch()  # made anew if the store lost it altogether

    async def _record(
        self, op: Op, events: Sequence[Event | None], epoch: str | None = None
    ) -> None:
        """Append changes to the feed collection, dropping what falls out of its history.

        The feed is written after the change it records (MongoDB without transactions):
        a crash between the two loses that feed entry, not the change.
        """
        first = await self._reserve("feed", len(events))
        await self._append(await paced(_feed_entries(op, events, first, epoch)))

    async def _append(self, entries: list[dict[str, Any]]) -> None:
        """Insert feed entries at their reserved positions; one there already is kept."""
        try:
            await self._feed.insert_many(entries, ordered=False)
        except BulkWriteError as exc:
            # A reminder's entry that a claim inserted before it stopped: the same entry.
            if any(err.get("code") != _DUPLICATE_KEY for err in exc.details["writeErrors"]):
                raise
        self.round_trip()
        first, last = entries[0]["_id"], entries[-1]["_id"]
        self._written(last)
        if last // 100 != (first - 1) // 100:  # now and then, not on every write
            await self._feed.delete_many({"_id": {"$lte": last - self._history}})

    async def cursor_secret(self) -> bytes:
        if self._cursor_secret is None:
            async with self._ready_and_wrapped():
                # An upsert that only inserts: the first daemon to ask makes the secret.
                doc = await self._cursor_meta.find_one_and_update(
                    {"_id": "cursor_secret"},
                    {"$setOnInsert": {"value": os.urandom(32).hex()}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            self._cursor_secret = bytes.fromhex(doc["value"])
        return self._cursor_secret

    async def read_changes(self, after: int, limit: int) -> FeedPage:
        async with self._ready_and_wrapped():
            found = self._feed.find({"_id": {"$gt": after}}).sort("_id", ASCENDING).limit(limit)
            docs = await found.to_list(None)
            first = await self._feed.find_one({}, sort=[("_id", ASCENDING)])
            counter = await self._counters.find_one({"_id": "feed"})
        head = counter["value"] if counter else 0
        oldest = first["_id"] if first else head + 1
        return FeedPage([change(doc) for doc in docs], oldest=oldest, head=head)

    async def wait_changes(self, after: int, block: float) -> list[Change]:
        deadline = asyncio.get_running_loop().time() + block
        while True:
            page = await self.read_changes(after, 10_000)
            if page.changes or asyncio.get_running_loop().time() >= deadline:
                return page.changes
            await asyncio.sleep(0.05)  # MongoDB has no blocking read of a plain collection

    async def _try_insert(self, events: list[Event]) -> tuple[list[str], dict[str, Event]]:
        """Insert all of `events` and return them, or insert none and return their ids (some
        of which exist)."""
        first = await self._reserve("seq", len(events))
        _, inserted = await paced(numbered([events], first))
        arming = await self._book.arm([(e, []) for e in inserted.values()])
        fields = await self._search.filing()
        try:
            documents = await paced(_documents(inserted, arming, fields.filed.tokens))
            await self._events.bulk_write(documents, ordered=True)
            self.round_trip()
        except BulkWriteError as exc:
            if any(err.get("code") != _DUPLICATE_KEY for err in exc.details["writeErrors"]):
                raise
            # An id exists: undo what this batch wrote before it, so the put is all or none.
            done = list(inserted.values())[: exc.details["nInserted"]]
            if done:
                # By `seq`, this put's own: a claim may have taken a reminder out already,
                # changing `v`, and an id deleted since may be another put's by now.
                await self._events.delete_many({"$or": [{"_id": e.id, "seq": e.seq} for e in done]})
            return list(inserted), {}
        await self._search.refile(fields, inserted)
        await self._book.write_records(arming)
        await self._record("created", list(inserted.values()))
        return [], inserted

    async def get(self, id: str) -> Event | None:
        async with self._ready_and_wrapped():
            doc = await self._events.find_one({"_id": id})
        return None if doc is None else from_document(doc)

    async def update(self, id: str, changes: Mapping[str, Any], updated: int) -> Event | None:
        async with self._ready_and_wrapped():
            for _ in range(ATTEMPTS):
                doc = await self._events.find_one({"_id": id})
                if doc is None:
                    return None
                new = msgspec.structs.replace(from_document(doc), **changes, updated=updated)
                arming = await self._book.arm([(new, pending_of(doc))])
                fields = await self._search.filing()
                result = await self._events.replace_one(
                    {"_id": id, "v": doc["v"]},
                    to_document(
                        new, doc["v"] + 1, entries(arming.pending[id]), fields.filed.tokens(new)
                    ),
                )
                if result.matched_count:
                    await self._search.refile(fields, [id])
                    await self._book.write_records(arming)
                    await self._record("updated", [new])
                    return new
        raise StorageError(f"mongodb: event {id!r} kept changing; gave up after {ATTEMPTS} tries")

    async def delete(self, id: str) -> Event | None:
        async with self._ready_and_wrapped():
            doc = await self._events.find_one_and_delete({"_id": id})
            if doc is None:
                return None
            event = from_document(doc)
            await self._book.cancel(doc)
            await self._record("deleted", [event])
        return event

    async def query(self, query: Query) -> Page:
        async with self._ready_and_wrapped():
            return await self._search.page(query)

    async def count(self, query: Query) -> int:
        async with self._ready_and_wrapped():
            return await self._search.count(query)

    async def clear(self) -> int:
        async with self._ready_and_wrapped():
            # The records first: a clear cut short after the events would leave `sent` records
            # that keep a re-created event (same id and timestamp) from being armed, forever.
            # Cut short here instead, it leaves events whose records are gone: a clear again
            # finishes it.
            await self._book.clear()
            result = await self._events.delete_many({})
            self.round_trip()
            epoch = new_epoch()
            await self._counters.update_one(
                {"_id": "epoch"}, {"$set": {"value": epoch}}, upsert=True
            )
            await self._record("cleared", [None], epoch)
        deleted: int = result.deleted_count
        return deleted

    async def next_due(self) -> int | None:
        async with self._ready_and_wrapped():
            due = [await self._book.next_due(), await self._book.half_done_due()]
        return min((d for d in due if d is not None), default=None)

    async def claim_due(self, now: int, limit: int, late_grace: int) -> list[Reminder]:
        """Finish the claims left half-done, then claim due reminders and send the sent ones.

        The class docstring says what a crash between the steps leaves, and who finishes it.
        """
        async with self._ready_and_wrapped():
            finished = await self._book.finish(now, limit)
            claimed = await self._book.claim(now, limit - len(finished), late_grace)
            sent = await self._book.send([(r, e) for r, e in claimed if r.state == "sent"])
        placed = {(r.event_id, r.ts, r.offset): r for r in sent}
        return finished + [placed.get((r.event_id, r.ts, r.offset), r) for r, _ in claimed]

    async def list_reminders(self, query: ReminderQuery) -> ReminderPage:
        async with self._ready_and_wrapped():
            return await self._book.page(query)

    async def event_reminders(self, event_id: str) -> list[Reminder]:
        async with self._ready_and_wrapped():
            return await self._book.of_event(event_id)


@asynccontextmanager
async def _wrapped() -> AsyncIterator[None]:
    try:
        yield
    except BulkWriteError as exc:
        raise StorageError(f"mongodb: bulk write failed: {exc.details.get('writeErrors')}") from exc
    except PyMongoError as exc:
        raise StorageError(f"mongodb: {exc}") from exc


# Made a slice at a time (see `pacing`): a large put's documents take long to make at once.
SLICE = 512


def _documents(
    inserted: Mapping[str, Event], arming: Arming, tokens: Callable[[Event], list[str]]
) -> Work[list[InsertOne[dict[str, Any]]]]:
    """Return the inserts of the events' documents."""
    documents = []
    for part in slices(list(inserted.values()), SLICE):
        documents += [
            InsertOne(to_document(e, 0, entries(arming.pending[e.id]), tokens(e))) for e in part
        ]
        yield
    return documents


def _feed_entries(
    op: Op, events: Sequence[Event | None], first: int, epoch: str | None
) -> Work[list[dict[str, Any]]]:
    """Return the feed entries of changes at positions from `first` on."""
    feed = []
    for start, part in enumerate(slices(events, SLICE)):
        at = first + start * SLICE
        feed += [to_feed_entry(at + i, op, e, epoch) for i, e in enumerate(part)]
        yield
    return feed
