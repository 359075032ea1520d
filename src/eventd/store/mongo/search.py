"""The mongo engine's queries, with field-value search, and its indexed fields' index.

Every event's document holds `f`, the tokens of its indexed fields' values (`where.token`),
under a compound multikey index `(f, t, seq)`. A clause on an indexed field is a match on
`f`, answered by that index; other clauses are checked on each document read (`data` is kept
as JSON text, which the server cannot search), batch after batch.

The store records the fields it indexes (a document of the meta collection), so that a
daemon started with another `timelines.indexed_fields` rewrites `f` of every stored event.
Every daemon on one store should list the same fields: one listing fewer does not file its
writes under the fields it does not know.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from pymongo import ASCENDING, DESCENDING

from eventd.model import Event
from eventd.store.base import Page, Query
from eventd.store.mongo.documents import from_document
from eventd.store.where import FieldIndex, Matcher, filtered_count, filtered_page, token

log = logging.getLogger(__name__)
INDEX = [("f", ASCENDING), ("t", ASCENDING), ("seq", ASCENDING)]
PROGRESS_EVERY = 100_000  # events: how often a rebuild logs how far it got
BATCH = 1000
_STATE_ID = "indexed_fields"


class Search:
    """Queries and counts events, and keeps `f` in step with the indexed fields."""

    def __init__(
        self,
        events: Any,
        meta: Any,
        fields: FieldIndex,
        round_trip: Callable[[], None],
        counted: Callable[[int], None],
    ) -> None:
        self._events = events
        self._meta = meta
        self.fields = fields
        self._round_trip = round_trip
        self._counted = counted  # told how many events each read takes from an index

    def _plan(self, query: Query) -> tuple[dict[str, Any] | None, Matcher]:
        """Return the match on `f` that answers a clause of `query` (if one can), and what
        the documents found must also pass (type, key and time are matched by the server)."""
        rest = replace(query, type=None, key=None)
        clause = self.fields.clause(query)
        if clause is None:
            return None, Matcher(rest)
        return {"f": token(*clause)}, Matcher(rest, skip=clause)

    async def _fetch(self, indexed: dict[str, Any] | None, query: Query, count: int) -> list[Event]:
        direction = ASCENDING if query.order == "asc" else DESCENDING
        found = (
            self._events.find(_filter(query, indexed, with_cursor=True))
            .sort([("t", direction), ("seq", direction)])
            .limit(count)
        )
        docs = await found.to_list(length=count)
        self._round_trip()
        self._counted(len(docs))
        return [from_document(doc) for doc in docs]

    async def page(self, query: Query) -> Page:
        """Return a page of `query`."""
        indexed, matches = self._plan(query)
        if matches.trivial:
            events = await self._fetch(indexed, query, query.limit + 1)
            return Page(events[: query.limit], more=len(events) > query.limit)
        return await filtered_page(lambda q, n: self._fetch(indexed, q, n), query, matches)

    async def count(self, query: Query) -> int:
        """Count the events `query` selects."""
        indexed, matches = self._plan(query)
        if matches.trivial:
            count: int = await self._events.count_documents(
                _filter(query, indexed, with_cursor=False)
            )
            return count
        return await filtered_count(lambda q, n: self._fetch(indexed, q, n), query, matches)

    async def sync(self) -> None:
        """Rewrite `f` of every stored event if the store indexes other fields than listed."""
        await self._events.create_index(INDEX)
        wanted = sorted(path.key for path in self.fields.paths)
        state = await self._meta.find_one({"_id": _STATE_ID})
        if state is None and not wanted:
            return  # a store that never indexed a field: no document has tokens
        if state is not None and state["keys"] == wanted and state["ready"]:
            return
        log.info("indexing the fields %s of the stored events", ", ".join(wanted) or "(none)")
        await self._meta.replace_one(
            {"_id": _STATE_ID}, {"keys": wanted, "ready": False}, upsert=True
        )
        done = 0
        last = None
        while True:
            after: dict[str, Any] = {} if last is None else {"_id": {"$gt": last}}
            docs = await self._events.find(after).sort("_id", ASCENDING).to_list(BATCH)
            if not docs:
                break
            # One update per distinct set of tokens: a field has few values, mostly.
            groups: dict[tuple[str, ...], list[str]] = {}
            for doc in docs:
                tokens = tuple(self.fields.tokens(from_document(doc)))
                groups.setdefault(tokens, []).append(doc["_id"])
            for tokens, ids in groups.items():
                await self._events.update_many({"_id": {"$in": ids}}, {"$set": {"f": list(tokens)}})
            last = docs[-1]["_id"]
            if (done + len(docs)) // PROGRESS_EVERY > done // PROGRESS_EVERY:
                log.info("indexed %d events so far", done + len(docs))
            done += len(docs)
        await self._meta.replace_one({"_id": _STATE_ID}, {"keys": wanted, "ready": True})
        log.info("indexed the fields of %d events", done)


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
