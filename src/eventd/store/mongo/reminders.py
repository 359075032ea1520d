"""The mongo engine's reminders: pending ones in their event's document, records beside.

A pending reminder is an entry `{o, d, a}` of its event's `rem` array, written by the same
single-document write as the event (MongoDB writes one document atomically), and `rn`, the
event's next due time, is indexed by `(rn, _id)`: the next due time and the due events are
an index range. Every other state is a record in the records collection, whose unique index
on `(e, t, o)` (event id, timestamp, offset) is the claim: one insert succeeds per reminder,
however many daemons try.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from pymongo import ASCENDING
from pymongo.errors import BulkWriteError, DuplicateKeyError

from eventd.model import Event
from eventd.store.base import Reminder, ReminderPage, ReminderQuery, StorageError
from eventd.store.mongo.documents import (
    US,
    after,
    due_span,
    entry,
    from_document,
    from_record,
    identity,
    offsets_of,
    pending_of,
    plan,
    settle,
    to_feed_entry,
    to_record,
)
from eventd.store.puts import ATTEMPTS

_INT64_MIN = -(2**63)
# The due index, in the order of due reminders: by next due time, then event id.
DUE_ORDER = [("rn", ASCENDING), ("_id", ASCENDING)]
_DUPLICATE_KEY = 11000
# How long a claim holds its `sent` records before another daemon may finish them: well
# beyond a claim call's run while the store answers (a claim stalled past it loses them, and
# leaves a position unused: see `MongoEngine`).
LEASE = 60 * US
STATES_CHUNK = 10_000  # event ids per read of records' states
_ORDER = [("d", ASCENDING), ("e", ASCENDING), ("o", ASCENDING)]  # due order
# The listings of records: by state, and by each combination of the filters, in due order.
_RECORD_INDEXES = (
    [("s", ASCENDING), *_ORDER],
    [("s", ASCENDING), ("type", ASCENDING), *_ORDER],
    [("s", ASCENDING), ("key", ASCENDING), *_ORDER],
    [("s", ASCENDING), ("type", ASCENDING), ("key", ASCENDING), *_ORDER],
)


@dataclass(slots=True)
class Arming:
    """What a write does to reminders: each event's pending ones, and the records to write."""

    pending: dict[str, list[Reminder]] = field(default_factory=dict)
    cancelled: list[Reminder] = field(default_factory=list)  # records to add
    rearmed: list[Reminder] = field(default_factory=list)  # whose cancelled records go


class ReminderBook:
    """The reminders of one mongo store; the engine calls it around its own writes."""

    def __init__(
        self,
        events: Any,
        records: Any,
        default_offsets: tuple[int, ...],
        round_trip: Callable[[], None],
        reserve: Callable[[int], Awaitable[int]],
        append: Callable[[list[dict[str, Any]]], Awaitable[None]],
    ) -> None:
        self._events = events
        self._records = records
        self._reserve = reserve  # feed positions
        self._append = append  # feed entries, each once whatever the retries
        # This engine's claims; it finishes its own half-done ones at once.
        self._token = secrets.token_hex(8)
        self.default_offsets = default_offsets
        self._round_trip = round_trip

    async def prepare(self) -> None:
        """Create the indexes: the due index on events, and the records' claim index."""
        # Not partial on `rn`: whether a range on `rn` may use a partial index is the query
        # planner's call, and a miss would be a pass over all events.
        await self._events.create_index(DUE_ORDER)
        await self._events.create_index([("rem.d", ASCENDING)])  # multikey: pending listings
        await self._records.create_index(
            [("e", ASCENDING), ("t", ASCENDING), ("o", ASCENDING)], unique=True
        )
        for keys in _RECORD_INDEXES:
            await self._records.create_index(keys)
        # Only the claims left half-done have `h`: a small index of what `finish` looks for.
        await self._records.create_index([("h", ASCENDING)], sparse=True)

    async def arm(self, writes: Sequence[tuple[Event, list[Reminder]]]) -> Arming:
        """Plan the reminders of events about to be written, each with its pending ones."""
        arming = Arming()
        candidates: list[Reminder] = []
        for event, pending in writes:
            staying, cancelled, new = plan(event, pending, self.default_offsets)
            arming.pending[event.id] = staying
            arming.cancelled += cancelled
            candidates += new
        if not candidates:
            return arming
        states = await self._states(candidates)
        for reminder in candidates:
            state = states.get((reminder.event_id, reminder.ts, reminder.offset))
            if state is None or state == "cancelled":
                arming.pending[reminder.event_id].append(reminder)
            if state == "cancelled":
                arming.rearmed.append(reminder)
        return arming

    async def _states(self, candidates: list[Reminder]) -> dict[tuple[str, int, int], str]:
        """Return the state of every record of these reminders' events at their timestamps."""
        states: dict[tuple[str, int, int], str] = {}
        ids = sorted({r.event_id for r in candidates})
        # In chunks: the worker folds puts, and one `$in` of all their ids could pass the
        # 16 MB limit of a command. Bounded on `t` too, so that an event's history (records
        # at the times it moved from) is not read on every write.
        for start in range(0, len(ids), STATES_CHUNK):
            chunk = set(ids[start : start + STATES_CHUNK])
            times = sorted({r.ts for r in candidates if r.event_id in chunk})
            found = self._records.find(
                {"e": {"$in": sorted(chunk)}, "t": {"$in": times}},
                {"e": 1, "t": 1, "o": 1, "s": 1},
            )
            states |= {(doc["e"], doc["t"], doc["o"]): doc["s"] async for doc in found}
            self._round_trip()
        return states

    async def write_records(self, arming: Arming) -> None:
        """Write the records a write leaves: cancelled ones, and none for re-armed ones."""
        if arming.cancelled:
            await self._insert_absent([to_record(r) for r in arming.cancelled])
        if arming.rearmed:
            await self._records.delete_many(
                {"$or": [identity(r) | {"s": "cancelled"} for r in arming.rearmed]}
            )
            self._round_trip()

    async def _insert_absent(self, records: list[dict[str, Any]]) -> None:
        """Insert the records whose identity has none yet (a claim may have come first)."""
        try:
            await self._records.insert_many(records, ordered=False)
        except BulkWriteError as exc:
            if any(err.get("code") != _DUPLICATE_KEY for err in exc.details["writeErrors"]):
                raise
        self._round_trip()

    async def cancel(self, doc: dict[str, Any]) -> None:
        """Cancel the pending reminders of a deleted event's document."""
        cancelled = [msgspec.structs.replace(r, state="cancelled") for r in pending_of(doc)]
        if cancelled:
            await self._insert_absent([to_record(r) for r in cancelled])

    async def clear(self) -> None:
        """Delete every record (the events' documents, with their pending ones, are gone)."""
        await self._records.delete_many({})
        self._round_trip()

    async def next_due(self) -> int | None:
        """Return the earliest due time of a pending reminder: the first `rn` of the index."""
        doc = await self._events.find_one(due_by(None), {"rn": 1}, sort=DUE_ORDER)
        return None if doc is None else int(doc["rn"])

    async def claim(self, now: int, limit: int, late_grace: int) -> list[tuple[Reminder, Event]]:
        """Claim up to `limit` due reminders in due order; return each, settled, with its event.

        None of them is in the feed yet: `send` appends the sent ones after this.
        """
        if limit <= 0:
            return []
        # The first `limit` events by their next due time hold the first `limit` due
        # reminders: each of them holds one due no later than any event after it.
        found = self._events.find(due_by(now)).sort(DUE_ORDER)
        docs = {doc["_id"]: doc for doc in await found.to_list(limit)}
        due = sorted(
            (r for doc in docs.values() for r in pending_of(doc) if r.due <= now),
            key=lambda r: r.order,
        )[:limit]
        won: list[Reminder] = []
        taken: dict[str, set[int]] = {}
        for reminder in due:
            settled = settle(reminder, now, late_grace)
            if await self._claim(settled, self._token):
                won.append(settled)
            # Taken out either way: a lost claim is another daemon's, or an older one's that
            # stopped before taking it out (and which `finish` completes).
            taken.setdefault(reminder.event_id, set()).add(reminder.offset)
        current = {id: await self._take_out(docs[id], offsets) for id, offsets in taken.items()}
        claimed = []
        for reminder in won:
            doc = current[reminder.event_id]
            if doc is None or self._moved(reminder, from_document(doc)):
                await self._undo(reminder)
            else:
                claimed.append((reminder, from_document(doc)))
        return claimed

    async def _undo(self, reminder: Reminder) -> None:
        """Cancel this engine's claim of a reminder whose event moved or went, if not placed."""
        await self._records.update_one(
            identity(reminder) | {"c": self._token, "p": None},
            {"$set": {"s": "cancelled", "at": None, "late": False}, "$unset": {"h": ""}},
        )
        self._round_trip()

    def _moved(self, reminder: Reminder, event: Event) -> bool:
        """Tell whether a write since the claim's read left the reminder out of the event's."""
        offsets = offsets_of(event, self.default_offsets)
        return event.ts != reminder.ts or reminder.offset not in offsets

    async def _claim(self, reminder: Reminder, token: str) -> bool:
        """Insert the reminder's record; tell whether this claim is the one that succeeded."""
        record = to_record(reminder, token)
        if reminder.state == "sent":
            record["h"] = (reminder.sent_at or 0) + LEASE  # half-done until its feed entry is in
        try:
            await self._records.insert_one(dict(record))  # insert_one adds its `_id`
            return True
        except DuplicateKeyError:
            # A cancelled record left by a write that re-armed it and stopped short of deleting
            # it is not a claim: take it over, still atomically.
            result = await self._records.update_one(
                identity(reminder) | {"s": "cancelled"}, {"$set": record}
            )
            return bool(result.matched_count)
        finally:
            self._round_trip()

    async def _take_out(self, doc: dict[str, Any], offsets: set[int]) -> dict[str, Any] | None:
        """Remove the claimed entries from an event's document, if it still holds them; return
        the document as it is after that (None: deleted)."""
        ts = doc["t"]
        current: dict[str, Any] | None = doc
        for _ in range(ATTEMPTS):
            if current is None or current["t"] != ts:
                return current
            rest = [e for e in current.get("rem") or () if e["o"] not in offsets]
            if len(rest) == len(current.get("rem") or ()):
                return current
            version = current["v"]
            changes: dict[str, Any] = {"$set": {"rem": rest, "v": version + 1}}
            if rest:
                changes["$set"]["rn"] = min(e["d"] for e in rest)
            else:
                changes["$unset"] = {"rn": ""}
            result = await self._events.update_one({"_id": doc["_id"], "v": version}, changes)
            self._round_trip()
            if result.matched_count:
                return {**current, "rem": rest, "v": version + 1}
            # Compare-and-set on the version, like `update`: an edit came between.
            current = await self._events.find_one({"_id": doc["_id"]})
        raise StorageError(f"mongodb: event {doc['_id']!r} kept changing; gave up")

    async def send(self, claimed: Sequence[tuple[Reminder, Event]]) -> list[Reminder]:
        """Give this engine's claimed sent reminders their positions and feed entries."""
        if not claimed:
            return []
        first = await self._reserve(len(claimed))
        placed: list[Reminder] = []
        entries: list[dict[str, Any]] = []
        for position, (reminder, event) in enumerate(claimed, start=first):
            reminder = msgspec.structs.replace(reminder, position=position)
            entry = to_feed_entry(position, "reminder", event, reminder=reminder)
            # The position and the entry go into the record before the feed: a claim that
            # finishes this one later inserts that very entry, so no position stays a hole.
            result = await self._records.update_one(
                identity(reminder) | {"c": self._token, "p": None},
                {"$set": {"p": position, "fe": entry}},
            )
            self._round_trip()
            if result.matched_count:  # else another claim took it over after its lease
                placed.append(reminder)
                entries.append(entry)
        await self._fed(entries)
        return placed

    async def _fed(self, entries: list[dict[str, Any]]) -> None:
        """Append reminders' feed entries (again, maybe) and mark their claims finished."""
        if not entries:
            return
        await self._append(entries)
        done = [{"e": e["re"], "t": e["rt"], "o": e["ro"], "c": self._token} for e in entries]
        await self._records.update_many({"$or": done}, {"$unset": {"h": "", "fe": ""}})
        self._round_trip()

    async def finish(self, now: int, limit: int) -> list[Reminder]:
        """Finish up to `limit` claims left half-done (`sent`, not yet in the feed) by a claim
        that stopped: this engine's own at once, another's once its lease has run out; return
        the reminders that were sent."""
        if limit <= 0:
            return []
        found = self._records.find(
            {"$or": [{"h": {"$lt": now}}, {"h": {"$gte": _INT64_MIN}, "c": self._token}]}
        )
        half = await found.sort("h", ASCENDING).to_list(limit)
        self._round_trip()
        sent: list[Reminder] = []
        for record in half:
            if record["c"] != self._token and not await self._take_over(record, now):
                continue
            if record.get("fe") is not None:  # placed: its entry may be in the feed already
                await self._fed([record["fe"]])
                sent.append(from_record(record))
                continue
            reminder = from_record(record)
            event = await self._still_due(reminder)
            if event is None:
                await self._undo(reminder)
            else:
                sent += await self.send([(reminder, event)])
        return sent

    async def _take_over(self, record: dict[str, Any], now: int) -> bool:
        """Make another claim's half-done record this engine's; tell whether it did."""
        result = await self._records.update_one(
            {"e": record["e"], "t": record["t"], "o": record["o"]}
            | {"c": record["c"], "h": record["h"]},
            {"$set": {"c": self._token, "h": now + LEASE}},
        )
        self._round_trip()
        return bool(result.matched_count)

    async def _still_due(self, reminder: Reminder) -> Event | None:
        """Take a claimed reminder's entry out of its event, if still there; return the event
        as stored, or None if it went or moved since the claim."""
        doc = await self._events.find_one({"_id": reminder.event_id})
        self._round_trip()
        if doc is not None and doc["t"] == reminder.ts:
            doc = await self._take_out(doc, {reminder.offset})
        if doc is None or self._moved(reminder, from_document(doc)):
            return None
        return from_document(doc)

    async def half_done_due(self) -> int | None:
        """Return when the first claim left half-done can be finished, or None."""
        doc = await self._records.find_one({"h": {"$gte": _INT64_MIN}}, sort=[("h", ASCENDING)])
        self._round_trip()
        if doc is None:
            return None
        # This engine's own at once (its claims are over: the worker runs one at a time).
        return int(doc["at"] if doc["c"] == self._token else doc["h"])

    async def page(self, query: ReminderQuery) -> ReminderPage:
        """Return a page of reminders in `query.state`, in due order after `query.after`."""
        if query.state == "pending":
            found = await self._pending_page(query)
        else:
            clauses: list[dict[str, Any]] = [{"s": query.state}]
            span = due_span(query.start, query.end)
            if span:
                clauses.append({"d": span})
            if query.type is not None:
                clauses.append({"type": query.type})
            if query.key is not None:
                clauses.append({"key": query.key})
            if query.after is not None:
                # The `$or` of a keyset gives the index no bound: `d` from the cursor on does.
                clauses.append({"d": {"$gte": query.after[0]}})
                clauses.append(after(query.after, "d", "e", "o"))
            cursor = self._records.find({"$and": clauses}).sort(_ORDER).limit(query.limit + 1)
            found = [from_record(doc) async for doc in cursor]
        return ReminderPage(found[: query.limit], more=len(found) > query.limit)

    async def _pending_page(self, query: ReminderQuery) -> list[Reminder]:
        """Return up to `limit + 1` pending reminders of a query, from the events' entries.

        The multikey index on `rem.d` finds the events with an entry in the span, from the
        cursor's due time on; their entries are then unwound and sorted, so a page costs the
        pending reminders between its start and `end`, not a pass over all events.
        """
        # What remains: that cost is per page, as `$sort` must see every entry of the span
        # before `$limit`; a page in O(limit) needs the pending ones in a collection of their
        # own, ordered by (d, e, o), written with the event (no longer one atomic write).
        start = query.start
        if query.after is not None and (start is None or query.after[0] > start):
            start = query.after[0]
        span = due_span(start, query.end)
        # Bounded below even without a start, so that the index range holds pending ones only.
        bounds = span or {"$gte": _INT64_MIN}
        match: dict[str, Any] = {"rem": {"$elemMatch": {"d": bounds}}}
        if query.type is not None:
            match["type"] = query.type
        if query.key is not None:
            match["key"] = query.key
        entries: list[dict[str, Any]] = [{"rem.d": span}] if span else []
        if query.after is not None:
            entries.append(after(query.after, "rem.d", "_id", "rem.o"))
        pipeline: list[dict[str, Any]] = [
            {"$match": match},
            {"$project": {"t": 1, "type": 1, "key": 1, "rem": 1}},
            {"$unwind": "$rem"},
            {"$match": {"$and": entries} if entries else {}},
            {"$sort": {"rem.d": 1, "_id": 1, "rem.o": 1}},
            {"$limit": query.limit + 1},
        ]
        found = []
        async for doc in self._events.aggregate(pipeline):
            found += pending_of(doc | {"rem": [doc["rem"]]})
        return found

    async def of_event(self, event_id: str) -> list[Reminder]:
        """Return every reminder of an event, in due order."""
        doc = await self._events.find_one({"_id": event_id})
        records = self._records.find({"e": event_id})
        by_identity = {(rec["t"], rec["o"]): from_record(rec) async for rec in records}
        for reminder in [] if doc is None else pending_of(doc):
            known = by_identity.get((reminder.ts, reminder.offset))
            # A claimed one not yet taken out of the document is shown as claimed.
            if known is None or known.state == "cancelled":
                by_identity[(reminder.ts, reminder.offset)] = reminder
        return sorted(by_identity.values(), key=lambda r: r.order)


def entries(reminders: Sequence[Reminder]) -> list[dict[str, int]]:
    """Return the document entries of pending reminders."""
    return [entry(r) for r in reminders]


def due_by(now: int | None) -> dict[str, Any]:
    """Return the filter of events with a reminder due by `now` (None: with one pending)."""
    # A range on `rn`, bounded below too: documents without `rn` are out of it, and the index
    # gives the order (no sort stage).
    return {"rn": {"$gte": _INT64_MIN} if now is None else {"$lte": now}}
