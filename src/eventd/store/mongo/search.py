"""The mongo engine's queries, with field-value search, and its indexed fields' index.

Every event's document holds `f`, the tokens of its indexed fields' values (`where.token`),
under a compound multikey index `(f, t, seq)`. A clause on an indexed field is a match on
`f`, answered by that index; every clause, that one too, is checked on each document read
(`data` is kept as JSON text, which the server cannot search), batch after batch.

The store's record of its indexed fields (a document of the meta collection: each path's
state and a version bumped at every change) is the authority, as on Redis: `open` applies a
daemon's `indexed_fields` to it and rewrites `f` of every stored event (a compare-and-set on
each document's `v`, so a write in between wins); each engine keeps the set and version it
loaded (`where.FieldSet`), files its writes under the store's `building` and `ready` fields,
and reads the index of a `ready` one only.

MongoDB runs no script: a write reads the version before it writes, and again after; if the
version moved in between, the engine reloads the set and files the written documents again.
What is left open: a write whose engine stops (a crash, the server lost) between the write
and that second read stays filed under the old set until the next rebuild; and a search
re-reads the version at most once per `RECHECK` seconds, so for that long after another
daemon drops or rebuilds a field, a search on it may miss events (never return a wrong one:
`Matcher` checks them all). Two daemons starting together with the same fields both rewrite
`f`, to the same tokens; a daemon whose rewrite finds the version moved stops, leaving the
rest to the daemon that moved it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.errors import DuplicateKeyError

from eventd.store.base import Page, Query
from eventd.store.mongo.documents import from_document
from eventd.store.where import (
    Batch,
    FieldIndex,
    FieldSet,
    Matcher,
    filtered_count,
    filtered_page,
    token,
)

log = logging.getLogger(__name__)
INDEX = [("f", ASCENDING), ("t", ASCENDING), ("seq", ASCENDING)]
PROGRESS_EVERY = 100_000  # events: how often a rebuild logs how far it got
BATCH = 1000
RECHECK = 1.0  # seconds: how stale a search's view of the indexed fields may be
_STATE_ID = "indexed_fields"


def _states(doc: dict[str, Any] | None) -> tuple[int, dict[str, str]]:
    """Return the version and states of the fields' document (older ones held a list)."""
    if doc is None:
        return 0, {}
    if "fields" in doc:
        return int(doc["version"]), dict(doc["fields"])
    state = "ready" if doc.get("ready") else "building"
    return 0, dict.fromkeys(doc.get("keys", ()), state)


class Search:
    """Queries and counts events, and keeps `f` in step with the indexed fields."""

    def __init__(
        self,
        events: Any,
        meta: Any,
        configured: FieldIndex,
        round_trip: Callable[[], None],
        counted: Callable[[int], None],
    ) -> None:
        self._events = events
        self._meta = meta
        self.configured = configured
        self.loaded = FieldSet()
        self._loaded_at = -RECHECK
        self._round_trip = round_trip
        self._counted = counted  # told how many events each read takes from an index
        self._warned: frozenset[str] | None = None

    async def load(self, warn: bool = True) -> FieldSet:
        """Read the store's indexed fields and their version."""
        doc = await self._meta.find_one({"_id": _STATE_ID})
        self._round_trip()
        self._loaded_at = time.monotonic()
        version, states = _states(doc)
        if version != self.loaded.version or states != self.loaded.states:
            self.loaded = FieldSet(version, states)
        store = frozenset(path.key for path in self.loaded.filed.paths)
        if warn and self.loaded.differs(self.configured) and store != self._warned:
            self._warned = store  # once per set the store holds
            log.warning("%s", self.loaded.describe(self.configured))
        return self.loaded

    async def filing(self) -> FieldSet:
        """Return the store's fields as they are now, for a write to file its events."""
        return await self.load()

    async def refile(self, filed: FieldSet, ids: Iterable[str]) -> None:
        """File the documents `ids` again if the fields changed since `filed` was read."""
        if (await self.load()).version == filed.version:
            return
        docs = await self._events.find({"_id": {"$in": list(ids)}}).to_list(None)
        self._round_trip()
        await self._rewrite(self.loaded.filed, docs)

    async def _rewrite(self, fields: FieldIndex, docs: list[dict[str, Any]]) -> None:
        """Set `f` of `docs` to their tokens, each unless written since it was read (its
        `v` moved: that write filed it itself)."""
        # One update per distinct set of tokens: a field has few values, mostly.
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for doc in docs:
            tokens = tuple(fields.tokens(from_document(doc)))
            groups.setdefault(tokens, []).append({"_id": doc["_id"], "v": doc["v"]})
        for tokens, matches in groups.items():
            await self._events.update_many({"$or": matches}, {"$set": {"f": list(tokens)}})
            self._round_trip()

    def _plan(self, query: Query) -> tuple[dict[str, Any] | None, Matcher]:
        """Return the match on `f` that answers a clause of `query` (if one can), and what
        the documents found must also pass (type, key and time are matched by the server)."""
        matches = Matcher(replace(query, type=None, key=None))
        clause = self.loaded.ready.clause(query)
        return (None if clause is None else {"f": token(*clause)}), matches

    async def _fetch(self, indexed: dict[str, Any] | None, query: Query, count: int) -> Batch:
        direction = ASCENDING if query.order == "asc" else DESCENDING
        found = (
            self._events.find(_filter(query, indexed, with_cursor=True))
            .sort([("t", direction), ("seq", direction)])
            .limit(count)
        )
        docs = await found.to_list(length=count)
        self._round_trip()
        self._counted(len(docs))
        events = [from_document(doc) for doc in docs]
        return Batch(events, len(events), events[-1].position if events else None)

    async def _recheck(self) -> None:
        """Reload the fields if they were last read more than `RECHECK` seconds ago."""
        if time.monotonic() - self._loaded_at >= RECHECK:
            await self.load()

    async def page(self, query: Query) -> Page:
        """Return a page of `query`."""
        await self._recheck()
        indexed, matches = self._plan(query)
        if matches.trivial:
            events, read, _ = await self._fetch(indexed, query, query.limit + 1)
            return Page(events[: query.limit], more=read > query.limit)
        return await filtered_page(lambda q, n: self._fetch(indexed, q, n), query, matches)

    async def count(self, query: Query) -> int:
        """Count the events `query` selects."""
        await self._recheck()
        indexed, matches = self._plan(query)
        if matches.trivial:
            count: int = await self._events.count_documents(
                _filter(query, indexed, with_cursor=False)
            )
            return count
        return await filtered_count(lambda q, n: self._fetch(indexed, q, n), query, matches)

    async def sync(self) -> None:
        """Apply `indexed_fields` to the store, and rewrite `f` of every stored event if the
        store's fields change or were being built."""
        await self._events.create_index(INDEX)
        loaded = await self.load(warn=False)
        wanted = {path.key: loaded.states.get(path.key) for path in self.configured.paths}
        states = {key: state if state == "ready" else "building" for key, state in wanted.items()}
        if states == loaded.states and all(s == "ready" for s in states.values()):
            return
        if states != loaded.states and not await self._store(loaded.version, states):
            await self.load()  # another daemon changed them first: theirs stand
            return
        if await self._rebuild():
            ready = dict.fromkeys(states, "ready")
            await self._store(self.loaded.version, ready)
        await self.load()

    async def _store(self, version: int, states: dict[str, str]) -> bool:
        """Record `states` as the next version if the stored one is still `version`."""
        doc = {"fields": states, "version": version + 1}
        try:
            found = await self._meta.find_one_and_update(
                {"_id": _STATE_ID, "$or": [{"version": version}, {"version": {"$exists": False}}]},
                {"$set": doc, "$unset": {"keys": "", "ready": ""}},
                upsert=version == 0,
            )
        except DuplicateKeyError:  # another daemon recorded the first version
            return False
        self._round_trip()
        stored = found is not None or version == 0
        if stored:
            self.loaded = FieldSet(version + 1, states)
        return stored

    async def _rebuild(self) -> bool:
        """Rewrite `f` of every stored event under the loaded fields; return False if the
        store's fields changed meanwhile (the daemon that changed them rewrites)."""
        fields, version = self.loaded.filed, self.loaded.version
        names = ", ".join(path.key for path in fields.paths) or "(none)"
        log.info("indexing the fields %s of the stored events", names)
        done = 0
        last = None
        while True:
            after: dict[str, Any] = {} if last is None else {"_id": {"$gt": last}}
            docs = await self._events.find(after).sort("_id", ASCENDING).to_list(BATCH)
            self._round_trip()
            if not docs:
                break
            await self._rewrite(fields, docs)
            if (await self.load(warn=False)).version != version:
                log.info("the rewrite of the fields stopped: another daemon changed them")
                return False
            last = docs[-1]["_id"]
            if (done + len(docs)) // PROGRESS_EVERY > done // PROGRESS_EVERY:
                log.info("indexed %d events so far", done + len(docs))
            done += len(docs)
        log.info("indexed the fields of %d events", done)
        return True


def _filter(query: Query, indexed: dict[str, Any] | None, *, with_cursor: bool) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = [] if indexed is None else [indexed]
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
