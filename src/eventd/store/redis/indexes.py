"""The Redis engine's searches by field value, and the indexes of its indexed fields.

An indexed field's index is a sorted set per value (`Keys.by_value`), written by the same
scripts that write the events. The store's fields hash (`Keys.fields`) is the authority on
which fields are indexed: each path's state (`building`, `ready` or `dropping`) and a
version bumped at every change of a state. `open` applies a daemon's `indexed_fields` to it
(builds the newly listed fields, drops the unlisted ones); each engine keeps the set and
version it loaded (`where.FieldSet`). Writes file events under every `building` or `ready` field of
that set, whatever the daemon's own configuration lists, and every script that writes events
refuses a version other than the stored one: the engine then reloads the set and writes
again. Searches read a field's index only once it is `ready`, with the version checked in
the same script as the read, so a daemon that dropped or began a field elsewhere makes the
others reload rather than read a half-made or deleted index.

A build files the stored events under the new field's values only while the field is still
`building`, and each event only if it is still stored as the build read it (a write since
filed it itself): builds of two daemons started together are idempotent, and none races a
write into a stale entry. A drop deletes a field's indexes only while it is `dropping`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from eventd.fields import parse_path
from eventd.store.base import Page, Query, StorageError
from eventd.store.redis.layout import Keys
from eventd.store.redis.packing import bounds, decode, member, member_position, span
from eventd.store.where import (
    Batch,
    FieldIndex,
    FieldSet,
    Matcher,
    field_id,
    filtered_count,
    filtered_page,
    token,
)

log = logging.getLogger(__name__)
PROGRESS_EVERY = 100_000  # events: how often a build logs how far it got
SCAN_COUNT = 1000
VERSION = "#version"  # the version's name in the fields hash (no path key begins with #)
STALE = b"fields"  # what a script answers when the fields' version is another
ATTEMPTS = 5  # reloads of the fields one operation makes before it gives up


class FieldsChanged(Exception):
    """The store's indexed fields changed since the engine loaded them."""


class Search:
    """Answers queries with `where` clauses, and keeps the indexed fields' indexes in step
    with the configuration."""

    def __init__(
        self,
        client: Redis,
        keys: Keys,
        configured: FieldIndex,
        scripts: dict[str, AsyncScript],
        round_trip: Callable[[], None],
        counted: Callable[[int], None],
    ) -> None:
        self._client = client
        self._keys = keys
        self.configured = configured
        self.loaded = FieldSet()
        self._scripts = scripts
        self._round_trip = round_trip
        self._counted = counted  # told how many events each read takes from an index
        self._warned: frozenset[str] | None = None  # the store's set last warned about

    async def load(self, warn: bool = True) -> FieldSet:
        """Read the store's indexed fields and their version; `warn` once if they are not
        the configured ones."""
        found: Any = await self._client.hgetall(self._keys.fields)
        self._round_trip()
        states = {bytes(key).decode(): bytes(state).decode() for key, state in found.items()}
        version = int(states.pop(VERSION, "0"))
        self.loaded = FieldSet(version, states)
        store = frozenset(path.key for path in self.loaded.filed.paths)
        if warn and self.loaded.differs(self.configured) and store != self._warned:
            self._warned = store  # once per set the store holds, not once per reload
            log.warning("%s", self.loaded.describe(self.configured))
        return self.loaded

    async def _index_for(self, query: Query) -> tuple[str, Matcher]:
        """Return the narrowest index that holds every event `query` selects; the events
        read from it must pass the query's `Matcher` (its indexed clause too)."""
        index = self._keys.index_for(query)
        clause = self.loaded.ready.clause(query)
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
        return by_value, Matcher(query)

    async def _fetch(self, index: str, query: Query, count: int) -> Batch:
        """Read up to `count` entries of `index` in `query`'s range and order."""
        low, high = bounds(query)
        reply = await self._scripts["range"](
            keys=[self._keys.events, index, self._keys.fields],
            args=[low, high, count, "1" if query.order == "desc" else "0", self.loaded.version],
        )
        self._round_trip()
        if reply[0] == STALE:
            raise FieldsChanged
        raws, last = reply[2:], reply[1]
        self._counted(len(raws))
        events = [decode(raw) for raw in raws if raw is not None]
        return Batch(events, len(raws), member_position(last) if last else None)

    async def page(self, query: Query) -> Page:
        """Return a page of `query`."""
        for _ in range(ATTEMPTS):
            try:
                return await self._page(query)
            except FieldsChanged:
                await self.load()
        raise StorageError("redis: the indexed fields kept changing during a search")

    async def _page(self, query: Query) -> Page:
        index, matches = await self._index_for(query)
        if matches.trivial:
            events, read, _ = await self._fetch(index, query, query.limit + 1)
            if len(events) == read:  # else entries whose events are gone: read on past them
                return Page(events[: query.limit], more=read > query.limit)
        return await filtered_page(lambda q, count: self._fetch(index, q, count), query, matches)

    async def count(self, query: Query) -> int:
        """Count the events `query` selects."""
        for _ in range(ATTEMPTS):
            try:
                return await self._count(query)
            except FieldsChanged:
                await self.load()
        raise StorageError("redis: the indexed fields kept changing during a count")

    async def _count(self, query: Query) -> int:
        index, matches = await self._index_for(query)
        if matches.trivial:  # a time index, exact (a field's index never is: see Matcher)
            low, high = span(query)
            count: int = await self._client.zlexcount(index, low, high)
            return count
        return await filtered_count(lambda q, n: self._fetch(index, q, n), query, matches)

    async def sync(self) -> None:
        """Apply `indexed_fields` to the store: build the indexes of the fields newly
        listed, and drop those of the fields no longer listed."""
        recorded = (await self.load(warn=False)).states
        wanted = {path.key: path for path in self.configured.paths}
        for key in recorded:
            if key not in wanted:
                log.info("dropping the index of the field %s, no longer listed", key)
                await self._drop(key)
        for key in wanted:
            state = recorded.get(key, "")
            if state == "dropping":  # a drop cut short: what it left may be stale
                await self._drop(key)
                state = ""
            if state == "":
                await self._set_state(key, "", "building")
        states = (await self.load(warn=False)).states
        building = [path for key, path in wanted.items() if states.get(key) == "building"]
        if building and await self._build(FieldIndex(path.text for path in building)):
            for path in building:
                await self._set_state(path.key, "building", "ready")
        await self.load()

    async def _set_state(self, key: str, expected: str, new: str) -> bool:
        """Change the state of field `key` from `expected` ('*': any) to `new`."""
        version = await self._scripts["field_state"](
            keys=[self._keys.fields], args=[key, expected, new]
        )
        self._round_trip()
        return version is not None

    async def _drop(self, key: str) -> None:
        """Delete every index of the field `key` while it stays `dropping`."""
        await self._set_state(key, "*", "dropping")
        pattern = self._keys.field_pattern(field_id(parse_path(key)))
        cursor: Any = 0
        while True:
            cursor, found = await self._client.scan(cursor, match=pattern, count=SCAN_COUNT)
            self._round_trip()
            if found and not await self._scripts["drop"](
                keys=[self._keys.fields, *found], args=[key]
            ):
                return  # another daemon builds it again
            if cursor == 0:
                break
        await self._set_state(key, "dropping", "")

    async def _build(self, new: FieldIndex) -> bool:
        """File every stored event under the values of the fields of `new`; return False if
        one of them stopped being `building` (another daemon dropped it)."""
        names = ", ".join(path.key for path in new.paths)
        log.info("building the index of %s from the stored events", names)
        done = 0
        cursor: Any = 0
        while True:
            scanned: Any = await self._client.hscan(self._keys.events, cursor, count=SCAN_COUNT)
            cursor, raws = scanned
            if not await self._file(new, raws):
                log.info("the build of %s stopped: another daemon changed the fields", names)
                return False
            self._round_trip()
            passed, done = done // PROGRESS_EVERY, done + len(raws)
            if done // PROGRESS_EVERY > passed:
                log.info("indexed %s in %d events so far", names, done)
            if cursor == 0:
                break
        log.info("indexed %s in %d events", names, done)
        return True

    async def _file(self, new: FieldIndex, raws: dict[bytes, bytes]) -> bool:
        """File events read by a build, each if still stored as read (see build.lua)."""
        keys = [self._keys.events, self._keys.fields]
        position: dict[str, int] = {}
        args: list[Any] = [len(new.paths), *(path.key for path in new.paths)]
        for id, raw in raws.items():
            event = decode(raw)
            indexes = [self._keys.by_value(found) for found in new.tokens(event)]
            if indexes:
                slots = [position.setdefault(k, len(position) + 3) for k in indexes]
                args += [id, raw, member(event), len(slots), *slots]
        done = await self._scripts["build"](keys=keys + list(position), args=args)
        return bool(done)
