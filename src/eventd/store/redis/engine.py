"""The Redis engine: events in a hash, time-ordered indexes in lexicographic sorted sets.

The keys are laid out as `layout.py` describes; events, reminders and changes are written as
`packing.py` encodes them. Writes go through the Lua scripts in `scripts/`, so an event is
never visible in one index and missing from another, nor apart from its reminders (the
scripts that write an event arm and cancel them: `remind.lua`). Reminders are claimed and
read by `reminders.py`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any, Self

import msgspec
from redis.exceptions import RedisError

from eventd.config import Config
from eventd.model import Event
from eventd.pacing import Work, paced, slices
from eventd.store.base import (
    Change,
    Engine,
    FeedPage,
    Page,
    Pings,
    PutResult,
    Query,
    Reminder,
    ReminderPage,
    ReminderQuery,
    Reminders,
    ReportsRoundTrips,
    StorageError,
    engine_options,
    new_epoch,
)
from eventd.store.puts import ATTEMPTS, insert_new, numbered
from eventd.store.redis import lua
from eventd.store.redis.client import connect
from eventd.store.redis.indexes import STALE, Search
from eventd.store.redis.layout import Keys
from eventd.store.redis.packing import (
    DUE_WIDTH,
    ID_START,
    OFFSET_WIDTH,
    arming,
    changes_of,
    decode,
    disarming,
    encode,
    member,
)
from eventd.store.redis.packing import position as entry_position
from eventd.store.redis.reminders import ReminderReads
from eventd.store.where import FieldIndex

log = logging.getLogger(__name__)

# Events per insert script: short scripts keep Redis from blocking long on one, and keep the
# values of its variadic commands within what Lua's unpack() passes.
CHUNK = 2000
assert 2 * CHUNK < 8000, "the insert script unpacks 2 values per event of a chunk"
# Reminders an insert script arms at most: with many offsets per event, arming is most of a
# script's work, so a chunk is bounded by its reminders as well as by its events.
ARM_CHUNK = 2000
_SEQ_BLOCK = 1024  # seqs reserved at once
ARGUMENTS_SLICE = 256  # events of a chunk prepared per step (see `pacing`)
# Feed entries a blocking read takes at most: the client parses a reply at once, so a larger
# one would hold the loop longer (issue 20); the hub reads again at once while more wait.
FEED_READ = 1000

# The Lua scripts the engine runs, read once from the package's scripts/ at import.
_WIDTHS = {"DUE_WIDTH": DUE_WIDTH, "OFFSET_WIDTH": OFFSET_WIDTH}
SCRIPTS = {
    "insert": lua.source(
        "insert", uses=["record", "remind", "fields"], ID_START=ID_START, **_WIDTHS
    ),
    "swap": lua.source("swap", uses=["record", "remind", "fields"], **_WIDTHS),
    "cleared": lua.source("cleared", uses=["record"]),
    "renew_epoch": lua.source("renew_epoch"),
    "range": lua.source("range", uses=["fields"], ID_START=ID_START),
    "field_state": lua.source("field_state"),
    "build": lua.source("build"),
    "drop": lua.source("drop"),
    "claim": lua.source("claim", uses=["record", "remind"], **_WIDTHS),
    "reminders": lua.source("reminders", uses=["remind"], **_WIDTHS),
}


class RedisEngine(Engine, Pings, ReportsRoundTrips, Reminders):
    """Events stored in Redis under one namespace (see `layout.py`); a put reports a round
    trip after every script and read it makes."""

    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "eventd",
        timeout: float = 2.0,
        first_seq: int = 1,
        history: int = 100_000,
        default_offsets: Sequence[int] = (300,),
        indexed_fields: Sequence[str] = (),
    ) -> None:
        self.timeout = self._timeout = timeout
        self.default_offsets = tuple(default_offsets)
        self._history = history
        self._client = connect(url, timeout)
        self._keys = Keys(namespace)
        self._first_seq = first_seq
        self._seq_next = self._seq_end = 0  # the block of seqs reserved: [next, end)
        self._cursor_secret: bytes | None = None
        script = self._client.register_script
        self._insert = script(SCRIPTS["insert"])
        self._swap = script(SCRIPTS["swap"])
        self._cleared = script(SCRIPTS["cleared"])
        self._renew_epoch = script(SCRIPTS["renew_epoch"])
        scripts = {name: script(SCRIPTS[name]) for name in ("claim", "reminders")}
        self._reminders = ReminderReads(self._client, self._keys, scripts, self.round_trip, history)
        searching = {
            name: script(SCRIPTS[name]) for name in ("range", "field_state", "build", "drop")
        }
        self._search = Search(
            self._client,
            self._keys,
            FieldIndex(indexed_fields),
            searching,
            self.round_trip,
            self._read,
        )
        self._fields_synced = False  # the store's indexes match `indexed_fields`

    @classmethod
    def from_config(cls, config: Config) -> Self:
        return cls(**engine_options(config, config.engine.redis))

    async def open(self) -> None:
        try:
            async with self._wrapped():
                await self._client.set(self._keys.seq, self._first_seq - 1, nx=True)
                await self._sync_fields()
        except StorageError as exc:
            # Start anyway: requests answer 503 until the server is reachable.
            log.warning("redis is not reachable at start-up: %s", exc)

    async def close(self) -> None:
        await self._client.aclose()

    async def ping(self) -> None:
        async with self._wrapped():
            await self._client.ping()

    async def _sync_fields(self) -> None:
        """Bring the indexes of indexed fields in line with `indexed_fields`, once."""
        if not self._fields_synced:
            await self._search.sync()
            self._fields_synced = True

    def _read(self, count: int) -> None:
        self.events_read += count

    @asynccontextmanager
    async def _wrapped(self) -> AsyncIterator[None]:
        try:
            yield
        except (RedisError, OSError) as exc:
            raise StorageError(f"redis: {exc}") from exc

    async def put_many(self, events: Sequence[Event]) -> list[PutResult]:
        async with self._wrapped():
            await self._sync_fields()  # if the server was unreachable at start-up
            return await insert_new(events, self._try_insert, self._read_stored, "redis")

    async def _read_stored(self, ids: list[str]) -> dict[str, Event]:
        raws = await self._client.hmget(self._keys.events, ids)
        self.round_trip()
        return {id: decode(raw) for id, raw in zip(ids, raws, strict=True) if raw is not None}

    async def _try_insert(self, events: list[Event]) -> tuple[list[str], dict[str, Event]]:
        """Insert all or none of `events`; return the ids that exist already, or the inserted.

        A large batch is written in chunks, so that Redis never blocks long on one script
        and no reply outlasts the socket timeout. Its ids are checked all at once first; if
        another writer stores one of them between two chunks, the chunks written are undone.
        What eventd prepares for the scripts is made a slice at a time (see `pacing`).
        """
        chunks = await paced(self._chunks(events))
        if len(chunks) > 1:
            existing = await self._existing([event.id for event in events])
            if existing:
                return existing, {}
        first = await self._reserve_seqs(len(events))
        chunks, inserted = await paced(numbered(chunks, first))
        if len(chunks) == 1:
            existing = await self._insert_chunk(chunks[0])
            return (existing, {}) if existing else ([], inserted)
        written, existing = await self._insert_chunks(chunks)
        if existing:
            for event in written:
                await self._swap_once(encode(event), event, None)
            return existing, {}
        return [], inserted

    def _chunks(self, events: Sequence[Event]) -> Work[list[list[Event]]]:
        """Split `events` in order into chunks of at most `CHUNK` events and `ARM_CHUNK`
        reminders to arm."""
        chunks: list[list[Event]] = []
        chunk: list[Event] = []
        armed = 0
        for part in slices(events, CHUNK):
            for event in part:
                offsets = self.default_offsets if event.remind is None else event.remind
                weight = len(offsets) if event.ts > event.updated else 0
                if chunk and (len(chunk) == CHUNK or armed + weight > ARM_CHUNK):
                    chunks.append(chunk)
                    chunk, armed = [], 0
                chunk.append(event)
                armed += weight
            yield
        return [*chunks, chunk] if chunk else chunks

    async def _insert_chunks(self, chunks: list[list[Event]]) -> tuple[list[Event], list[str]]:
        """Insert chunks with two scripts in flight, so that eventd prepares the next one
        while Redis runs the current one; stop at the first that finds a stored id.

        Return the events written and the ids found stored (if any).
        """
        written: list[Event] = []
        existing: list[str] = []
        in_flight: deque[tuple[list[Event], asyncio.Task[list[str]]]] = deque()
        waiting = iter(chunks)
        try:
            while True:
                while len(in_flight) < 2 and not existing and (chunk := next(waiting, None)):
                    in_flight.append((chunk, asyncio.ensure_future(self._insert_chunk(chunk))))
                if not in_flight:
                    break
                done, task = in_flight.popleft()
                if found := await task:
                    existing = existing or found
                else:
                    written += done
        finally:
            # On an error, let the other script finish: as with a single chunk, what was
            # written before the error stays written.
            await asyncio.gather(*(task for _, task in in_flight), return_exceptions=True)
        return written, existing

    def forget_written_position(self) -> None:
        # The seq counter went with the lost history: a block reserved from it would give
        # seqs the new counter hands out again.
        super().forget_written_position()
        self._seq_next = self._seq_end = 0

    async def _reserve_seqs(self, count: int) -> int:
        """Return the first of `count` fresh seqs, taken from a block reserved ahead.

        Reserving blocks spares a round trip per put; seqs only need to be unique (they order
        events of the same timestamp), so a block left unused at a restart is no loss.
        """
        if self._seq_end - self._seq_next < count:
            size = max(count, _SEQ_BLOCK)
            last = await self._client.incrby(self._keys.seq, size)
            self.round_trip()
            self._seq_next, self._seq_end = last - size + 1, last + 1
        first = self._seq_next
        self._seq_next += count
        return first

    async def _existing(self, ids: list[str]) -> list[str]:
        found: list[str] = []
        for start in range(0, len(ids), 10 * CHUNK):
            chunk = ids[start : start + 10 * CHUNK]
            raws = await self._client.hmget(self._keys.events, chunk)
            self.round_trip()
            found += [id for id, raw in zip(chunk, raws, strict=True) if raw is not None]
        return found

    async def _insert_chunk(self, events: list[Event]) -> list[str]:
        """Insert a chunk, filed under the store's indexed fields; return the ids found
        stored (and then nothing is written)."""
        for _ in range(ATTEMPTS):
            result = await self._insert_filed(events)
            if result != STALE:
                break
            await self._search.load()  # another daemon changed the indexed fields
        else:
            raise StorageError("redis: the indexed fields kept changing during a put")
        if isinstance(result, int):
            self._written(result)
            return []
        return [id.decode() for id in result]

    async def _insert_filed(self, events: list[Event]) -> Any:
        keys, args = await paced(self._insert_arguments(events))
        result = await self._insert(keys=keys, args=args)
        self.round_trip()
        return result

    def _insert_arguments(self, events: list[Event]) -> Work[tuple[list[Any], list[Any]]]:
        """Return the insert script's keys and arguments for a chunk."""
        names, fields = self._keys, self._search.loaded
        keys = [names.events, names.all, names.pos, names.feed, names.pending, names.cancelled]
        keys.append(names.fields)
        position: dict[str, int] = {}
        args: list[Any] = [self._history, len(events), names.reminders, fields.version]
        armed: list[Any] = []
        for part in slices(events, ARGUMENTS_SLICE):
            for event in part:
                indexes = names.indexes(event, fields.filed.tokens(event))
                slots = [position.setdefault(k, len(position) + 8) for k in indexes]
                args += [member(event), encode(event), len(slots), *slots]
                # A new event has no pending reminders to cancel: only one that has not
                # started gets anything done.
                if event.ts > event.updated:
                    armed += arming(event, self.default_offsets)
            yield
        return keys + list(position), args + armed

    async def get(self, id: str) -> Event | None:
        async with self._wrapped():
            raw = await self._client.hget(self._keys.events, id)
        return None if raw is None else decode(raw)

    async def update(self, id: str, changes: Mapping[str, Any], updated: int) -> Event | None:
        return await self._swap_event(
            id, lambda old: msgspec.structs.replace(old, **changes, updated=updated)
        )

    async def delete(self, id: str) -> Event | None:
        return await self._swap_event(id, lambda old: None)

    async def _swap_event(self, id: str, change: Callable[[Event], Event | None]) -> Event | None:
        """Read, change and compare-and-set one event; return the old one on delete."""
        async with self._wrapped():
            await self._sync_fields()
            for _ in range(ATTEMPTS):
                raw = await self._client.hget(self._keys.events, id)
                if raw is None:
                    return None
                old = decode(raw)
                new = change(old)
                if await self._swap_once(raw, old, new):
                    return old if new is None else new
        raise StorageError(f"redis: event {id!r} kept changing; gave up after {ATTEMPTS} tries")

    async def _swap_once(self, raw: bytes | str, old: Event, new: Event | None) -> bool:
        """Compare-and-set one event, filed under the store's indexed fields."""
        for _ in range(ATTEMPTS):
            written = await self._swap_filed(raw, old, new)
            if written != STALE:
                self._written(int(written))
                return int(written) > 0
            await self._search.load()  # another daemon changed the indexed fields
        raise StorageError("redis: the indexed fields kept changing during a write")

    async def _swap_filed(self, raw: bytes | str, old: Event, new: Event | None) -> Any:
        names, fields = self._keys, self._search.loaded
        tokens = fields.filed.tokens
        old_keys = [names.all, *names.indexes(old, tokens(old))]
        new_keys = [] if new is None else [names.all, *names.indexes(new, tokens(new))]
        keys = [
            names.events,
            names.pos,
            names.feed,
            names.pending,
            names.cancelled,
            names.fields,
            *dict.fromkeys(old_keys + new_keys),
        ]
        position = {key: i + 1 for i, key in enumerate(keys)}
        args: list[Any] = [
            old.id,
            raw,
            b"" if new is None else encode(new),
            member(old),
            "" if new is None else member(new),
            self._history,
            names.reminders,
            len(old_keys),
            len(new_keys),
            fields.version,
            *[position[k] for k in old_keys],
            *[position[k] for k in new_keys],
            *(disarming(old.id) if new is None else arming(new, self.default_offsets)),
        ]
        written = await self._swap(keys=keys, args=args)
        self.round_trip()
        return written

    async def query(self, query: Query) -> Page:
        async with self._wrapped():
            await self._sync_fields()
            return await self._search.page(query)

    async def count(self, query: Query) -> int:
        async with self._wrapped():
            await self._sync_fields()
            return await self._search.count(query)

    async def clear(self) -> int:
        async with self._wrapped():
            count: int = await self._client.hlen(self._keys.events)
            kept = self._keys.kept  # the epoch is renewed below, with the `cleared` change
            cursor: int = 0
            while True:  # each round trip is bounded on its own: a large store takes many
                page: Any = await self._client.scan(cursor, match=self._keys.pattern, count=1000)
                self.round_trip()
                cursor, keys = page
                if doomed := [key for key in keys if key.decode() not in kept]:
                    await self._client.unlink(*doomed)
                    self.round_trip()
                if cursor == 0:
                    break
            cleared = await self._cleared(
                keys=[self._keys.pos, self._keys.feed, self._keys.epoch],
                args=[self._history, new_epoch()],
            )
            self._written(cleared)
        return count

    async def cursor_secret(self) -> bytes:
        if self._cursor_secret is None:
            # SET NX: the first daemon to ask makes the secret, every other one reads it.
            async with self._wrapped(), self._client.pipeline(transaction=True) as pipe:
                pipe.set(self._keys.cursor_secret, os.urandom(32), nx=True)
                pipe.get(self._keys.cursor_secret)
                _, self._cursor_secret = await pipe.execute()
        assert self._cursor_secret is not None
        return self._cursor_secret

    async def next_due(self) -> int | None:
        async with self._wrapped():
            return await self._reminders.next_due()

    async def claim_due(self, now: int, limit: int, late_grace: int) -> list[Reminder]:
        async with self._wrapped():
            claimed = await self._reminders.claim_due(now, limit, late_grace)
        for reminder in claimed:
            if reminder.position is not None:
                self._written(reminder.position)
        return claimed

    async def list_reminders(self, query: ReminderQuery) -> ReminderPage:
        async with self._wrapped():
            return await self._reminders.list_reminders(query)

    async def event_reminders(self, event_id: str) -> list[Reminder]:
        async with self._wrapped():
            return await self._reminders.event_reminders(event_id)

    async def read_changes(self, after: int, limit: int) -> FeedPage:
        async with self._wrapped(), self._client.pipeline(transaction=True) as pipe:
            # XRANGE refuses a count of 0: a reader asking only for the head reads one.
            pipe.xrange(self._keys.feed, f"({after}-0", "+", count=max(limit, 1))
            pipe.xrange(self._keys.feed, "-", "+", count=1)
            pipe.get(self._keys.pos)
            entries, first, head = await pipe.execute()
        head = int(head or 0)
        oldest = entry_position(first[0][0]) if first else head + 1
        changes = await paced(changes_of(entries[:limit]))
        return FeedPage(changes, oldest=oldest, head=head)

    async def feed_epoch(self) -> str:
        epoch = await self.stored_epoch()
        if epoch is None:  # the first daemon to ask on this store makes it
            async with self._wrapped():
                await self._client.set(self._keys.epoch, new_epoch(), nx=True)
            epoch = await self.stored_epoch()
        if epoch is None:
            raise StorageError("redis: the feed's epoch vanished as it was made")
        return epoch

    async def stored_epoch(self) -> str | None:
        async with self._wrapped():
            epoch: Any = await self._client.get(self._keys.epoch)
        return None if epoch is None else bytes(epoch).decode()

    async def renew_epoch(self, lost: str) -> str:
        # Atomic, so that daemons noticing the loss together agree on one new epoch.
        async with self._wrapped():
            epoch: Any = await self._renew_epoch(keys=[self._keys.epoch], args=[lost, new_epoch()])
        return bytes(epoch).decode()

    async def wait_changes(self, after: int, block: float) -> list[Change]:
        # Blocking reads must end well inside the socket timeout.
        block_ms = max(1, int(min(block, self._timeout / 2) * 1000))
        async with self._wrapped():
            streams: Any = await self._client.xread(
                {self._keys.feed: f"{after}-0"}, count=FEED_READ, block=block_ms
            )
        if isinstance(streams, dict):  # RESP3 (`?protocol=3` in the URL) answers a map
            streams = streams.items()
        return await paced(changes_of([entry for _, entries in streams or [] for entry in entries]))
