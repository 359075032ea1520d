"""The MongoDB engine, on motor. Every motor and pymongo call of eventd lives in this module.

One document per event:

    {_id: id, t: <int64 microseconds>, seq: <int64>, time: <BSON date, milliseconds>,
     type, key, title, description, value, data: <JSON text>, remind: [seconds] | null,
     created: <int64 µs>, updated: <int64 µs>, v: <version for compare-and-set>}

`t` is the exact timestamp that orders and is answered; `time` is a BSON date for people and
TTL indexes (BSON dates hold milliseconds only). `data` is kept as JSON text so that every
JSON value comes back exactly as stored (BSON has no arbitrary-size integers, and would
reorder nothing but could change number types). `seq` comes from a counter document that
reserves one block per batch.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Self

import msgspec
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import ASCENDING, DESCENDING, InsertOne, ReturnDocument
from pymongo.errors import BulkWriteError, PyMongoError

from eventd.config import Config
from eventd.model import Event
from eventd.store.base import (
    Change,
    Engine,
    FeedPage,
    Op,
    Page,
    Pings,
    PutResult,
    Query,
    StorageError,
    new_epoch,
)
from eventd.store.puts import ATTEMPTS, insert_new

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DUPLICATE_KEY = 11000
_INDEXES = (
    [("t", ASCENDING), ("seq", ASCENDING)],
    [("type", ASCENDING), ("t", ASCENDING), ("seq", ASCENDING)],
    [("key", ASCENDING), ("t", ASCENDING), ("seq", ASCENDING)],
    [("type", ASCENDING), ("key", ASCENDING), ("t", ASCENDING), ("seq", ASCENDING)],
)


def to_document(event: Event, version: int) -> dict[str, Any]:
    """Return the stored document of an event."""
    return {
        "_id": event.id,
        "t": event.ts,
        "seq": event.seq,
        "time": _EPOCH + timedelta(milliseconds=event.ts // 1000),
        "type": event.type,
        "key": event.key,
        "title": event.title,
        "description": event.description,
        "value": event.value,
        "data": bytes(event.data).decode(),
        "remind": None if event.remind is None else list(event.remind),
        "created": event.created,
        "updated": event.updated,
        "v": version,
    }


def from_document(doc: Mapping[str, Any]) -> Event:
    """Return the event of a stored document."""
    remind = doc["remind"]
    return Event(
        id=doc["_id"],
        ts=doc["t"],
        seq=doc["seq"],
        type=doc["type"],
        key=doc["key"],
        title=doc["title"],
        description=doc["description"],
        value=doc["value"],
        data=msgspec.Raw(doc["data"].encode()),
        remind=None if remind is None else tuple(remind),
        created=doc["created"],
        updated=doc["updated"],
    )


class MongoEngine(Engine, Pings):
    """Events in one MongoDB collection with compound `(…, t, seq)` indexes."""

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

    @classmethod
    def from_config(cls, config: Config) -> Self:
        # Each setting of [engine.mongo] is the constructor's keyword of the same name.
        return cls(**dataclasses.asdict(config.engine.mongo), history=config.feed.history)

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
            await self._counters.update_one(
                {"_id": "seq"}, {"$setOnInsert": {"value": self._first_seq - 1}}, upsert=True
            )
        self._ready = True

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
        await self._feed.insert_many(
            [
                {"_id": position, "op": op, "event": None if e is None else _encode(e)}
                | ({} if epoch is None else {"epoch": epoch})
                for position, e in enumerate(events, start=first)
            ],
            ordered=True,
        )
        self.round_trip()
        last = first + len(events) - 1
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
        return FeedPage([_change(doc) for doc in docs], oldest=oldest, head=head)

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
        inserted = {
            e.id: msgspec.structs.replace(e, seq=seq) for seq, e in enumerate(events, start=first)
        }
        try:
            await self._events.bulk_write(
                [InsertOne(to_document(e, 0)) for e in inserted.values()], ordered=True
            )
            self.round_trip()
        except BulkWriteError as exc:
            if any(err.get("code") != _DUPLICATE_KEY for err in exc.details["writeErrors"]):
                raise
            # An id exists: undo what this batch wrote before it, so the put is all or none.
            done = [e.id for e in list(inserted.values())[: exc.details["nInserted"]]]
            if done:
                await self._events.delete_many({"_id": {"$in": done}, "v": 0})
            return list(inserted), {}
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
                result = await self._events.replace_one(
                    {"_id": id, "v": doc["v"]}, to_document(new, doc["v"] + 1)
                )
                if result.matched_count:
                    await self._record("updated", [new])
                    return new
        raise StorageError(f"mongodb: event {id!r} kept changing; gave up after {ATTEMPTS} tries")

    async def delete(self, id: str) -> Event | None:
        async with self._ready_and_wrapped():
            doc = await self._events.find_one_and_delete({"_id": id})
            if doc is None:
                return None
            event = from_document(doc)
            await self._record("deleted", [event])
        return event

    async def query(self, query: Query) -> Page:
        direction = ASCENDING if query.order == "asc" else DESCENDING
        async with self._ready_and_wrapped():
            cursor = (
                self._events.find(_filter(query, with_cursor=True))
                .sort([("t", direction), ("seq", direction)])
                .limit(query.limit + 1)
            )
            docs = await cursor.to_list(length=query.limit + 1)
        events = [from_document(doc) for doc in docs]
        return Page(events[: query.limit], more=len(events) > query.limit)

    async def count(self, query: Query) -> int:
        async with self._ready_and_wrapped():
            count: int = await self._events.count_documents(_filter(query, with_cursor=False))
        return count

    async def clear(self) -> int:
        async with self._ready_and_wrapped():
            result = await self._events.delete_many({})
            self.round_trip()
            epoch = new_epoch()
            await self._counters.update_one(
                {"_id": "epoch"}, {"$set": {"value": epoch}}, upsert=True
            )
            await self._record("cleared", [None], epoch)
        deleted: int = result.deleted_count
        return deleted


@asynccontextmanager
async def _wrapped() -> AsyncIterator[None]:
    try:
        yield
    except BulkWriteError as exc:
        raise StorageError(f"mongodb: bulk write failed: {exc.details.get('writeErrors')}") from exc
    except PyMongoError as exc:
        raise StorageError(f"mongodb: {exc}") from exc


_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder(Event).decode


def _change(doc: Mapping[str, Any]) -> Change:
    event = doc["event"]
    return Change(
        doc["_id"], doc["op"], None if event is None else _decode(event), doc.get("epoch")
    )


def _filter(query: Query, *, with_cursor: bool) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = []
    span: dict[str, int] = {}
    if query.start is not None:
        span["$gte"] = query.start
    if query.end is not None:
        span["$lte"] = query.end
    if span:
        clauses.append({"t": span})
    if query.type is not None:
        clauses.append({"type": query.type})
    if query.key is not None:
        clauses.append({"key": query.key})
    if with_cursor and query.after is not None:
        ts, seq = query.after
        beyond = "$gt" if query.order == "asc" else "$lt"
        clauses.append({"$or": [{"t": {beyond: ts}}, {"t": ts, "seq": {beyond: seq}}]})
    return {"$and": clauses} if clauses else {}
