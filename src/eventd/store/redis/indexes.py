"""The Redis engine's searches by field value, and the indexes of its indexed fields.

An indexed field's index is a sorted set per value (`Keys.by_value`), written by the same
scripts that write the events. The store records which fields it indexes (`Keys.fields`), so
that a daemon started with another `timelines.indexed_fields` builds the index of a newly
listed field from the stored events, and drops the index of a field no longer listed.
Every daemon on one store should list the same fields: one listing fewer does not file its
writes under the fields it does not know.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from eventd.fields import parse_path
from eventd.model import Event
from eventd.store.base import Page, Query
from eventd.store.redis.layout import Keys
from eventd.store.redis.packing import bounds, decode, member, span
from eventd.store.where import FieldIndex, Matcher, field_id, filtered_count, filtered_page, token

log = logging.getLogger(__name__)
PROGRESS_EVERY = 100_000  # events: how often a build logs how far it got
SCAN_COUNT = 1000


class Search:
    """Answers queries with `where` clauses, and keeps the indexed fields' indexes in step
    with the configuration."""

    def __init__(
        self,
        client: Redis,
        keys: Keys,
        fields: FieldIndex,
        range_script: AsyncScript,
        round_trip: Callable[[], None],
        counted: Callable[[int], None],
    ) -> None:
        self._client = client
        self._keys = keys
        self.fields = fields
        self._range = range_script
        self._round_trip = round_trip
        self._counted = counted  # told how many events each read takes from an index

    async def _index_for(self, query: Query) -> tuple[str, Matcher]:
        """Return the narrowest index that holds every event `query` selects, and what the
        events read from it must also pass."""
        index = self._keys.index_for(query)
        clause = self.fields.clause(query)
        if clause is None:
            return index, Matcher(query)
        by_value = self._keys.by_value(token(*clause))
        if index != self._keys.all:  # a type or key index too: read the smaller one
            async with self._client.pipeline(transaction=False) as pipe:
                pipe.zcard(by_value)
                pipe.zcard(index)
                sizes: list[int] = await pipe.execute()
            self._round_trip()
            if sizes[1] < sizes[0]:
                return index, Matcher(query)
        return by_value, Matcher(query, skip=clause)

    async def _fetch(self, index: str, query: Query, count: int) -> list[Event]:
        """Return up to `count` events of `index` in `query`'s range and order."""
        low, high = bounds(query)
        raws = await self._range(
            keys=[self._keys.events, index],
            args=[low, high, count, "1" if query.order == "desc" else "0"],
        )
        self._round_trip()
        self._counted(len(raws))
        return [decode(raw) for raw in raws if raw is not None]

    async def page(self, query: Query) -> Page:
        """Return a page of `query`."""
        index, matches = await self._index_for(query)
        if matches.trivial:
            events = await self._fetch(index, query, query.limit + 1)
            return Page(events[: query.limit], more=len(events) > query.limit)
        return await filtered_page(lambda q, count: self._fetch(index, q, count), query, matches)

    async def count(self, query: Query) -> int:
        """Count the events `query` selects."""
        index, matches = await self._index_for(query)
        if matches.trivial:
            low, high = span(query)
            count: int = await self._client.zlexcount(index, low, high)
            return count
        return await filtered_count(lambda q, n: self._fetch(index, q, n), query, matches)

    async def sync(self) -> None:
        """Build the indexes of the fields newly listed, and drop those of fields no longer
        listed, as the store records them."""
        found: Any = await self._client.hgetall(self._keys.fields)
        recorded = {bytes(key).decode(): bytes(state).decode() for key, state in found.items()}
        wanted = {path.key: path for path in self.fields.paths}
        for key in recorded:
            if key not in wanted:
                log.info("dropping the index of the field %s, no longer listed", key)
                await self._drop(key)
                await self._client.hdel(self._keys.fields, key)
        building = [path for key, path in wanted.items() if recorded.get(key) != "ready"]
        for path in building:
            if path.key in recorded:  # a build or drop cut short: what it left may be stale
                await self._drop(path.key)
        if building:
            await self._build(FieldIndex(path.text for path in building))

    async def _drop(self, key: str) -> None:
        """Delete every index of the field `key`, recording that a drop is under way."""
        await self._client.hset(self._keys.fields, key, "dropping")
        pattern = self._keys.field_pattern(field_id(parse_path(key)))
        async for found in self._client.scan_iter(match=pattern, count=SCAN_COUNT):
            await self._client.unlink(found)
            self._round_trip()

    async def _build(self, new: FieldIndex) -> None:
        """File every stored event under the values of the fields of `new`."""
        names = ", ".join(path.key for path in new.paths)
        log.info("building the index of %s from the stored events", names)
        await self._client.hset(
            self._keys.fields, mapping=dict.fromkeys((p.key for p in new.paths), "building")
        )
        done = 0
        cursor: Any = 0
        while True:
            scanned: Any = await self._client.hscan(self._keys.events, cursor, count=SCAN_COUNT)
            cursor, raws = scanned
            async with self._client.pipeline(transaction=False) as pipe:
                for raw in raws.values():
                    event = decode(raw)
                    for found in new.tokens(event):
                        pipe.zadd(self._keys.by_value(found), {member(event): 0})
                await pipe.execute()
            self._round_trip()
            passed, done = done // PROGRESS_EVERY, done + len(raws)
            if done // PROGRESS_EVERY > passed:
                log.info("indexed %s in %d events so far", names, done)
            if cursor == 0:
                break
        await self._client.hset(
            self._keys.fields, mapping=dict.fromkeys((p.key for p in new.paths), "ready")
        )
        log.info("indexed %s in %d events", names, done)
