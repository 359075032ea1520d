"""The event service: what the HTTP layer asks of the store, validated and batched."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from msgspec import UNSET

from eventd.errors import ApiError, Conflict, InvalidField, NotFound
from eventd.events import cursor
from eventd.model import Event, EventIn, Validator, check_id, new_id
from eventd.pacing import Work, paced
from eventd.store.base import IdConflict, PutResult, Query
from eventd.store.commands import Clear, Count, CursorSecret, Delete, Get, PutMany, RunQuery, Update
from eventd.store.worker import StoreWorker
from eventd.times import Clock

VALIDATE_SLICE = 64  # events validated between two looks at the clock (see `pacing`)


@dataclasses.dataclass(frozen=True, slots=True)
class Listing:
    events: list[Event]
    next_cursor: str | None  # after the last event; null when nothing follows
    prev_cursor: str | None  # before the page, for the other order; null on a first page


class EventService:
    """Creates, reads, changes and lists events through the store worker."""

    def __init__(self, worker: StoreWorker, validator: Validator, clock: Clock) -> None:
        self.worker = worker
        self.validator = validator
        self.clock = clock
        self._cursor_secret: bytes | None = None

    async def create(self, items: Sequence[EventIn], *, batch: bool) -> list[PutResult]:
        """Validate all items, then store them at once; nothing is stored if one is invalid."""
        events = await paced(self._new_events(items, batch))
        try:
            return await self.worker.call(PutMany(events))
        except IdConflict as exc:
            conflict = Conflict(f"id {exc.id!r} is stored with different content", field="id")
            raise conflict.at_index(exc.index) if batch else conflict from None

    def _new_events(self, items: Sequence[EventIn], batch: bool) -> Work[list[Event]]:
        """Validate `items` into new events, a slice at a time."""
        now = self.clock()
        events = []
        new_event = self.validator.new_event
        for index, item in enumerate(items):
            try:
                id = new_id() if item.id is UNSET else check_id(item.id)
                events.append(new_event(item, id=id, now=now))
            except ApiError as exc:
                raise exc.at_index(index) if batch else exc from None
            if index % VALIDATE_SLICE == VALIDATE_SLICE - 1:
                yield
        return events

    async def get(self, id: str) -> Event:
        """Return the event or raise `NotFound`."""
        return _found(id, await self.worker.call(Get(id)))

    async def replace(self, id: str, given: EventIn) -> Event:
        """Replace every content field of the event (PUT)."""
        _check_body_id(id, given)
        changes = self.validator.replacement(given)
        return _found(id, await self.worker.call(Update(id, changes, self.clock())))

    async def patch(self, id: str, given: EventIn) -> Event:
        """Change the given fields of the event (PATCH)."""
        _check_body_id(id, given)
        changes = self.validator.changes(given, require_timestamp=False)
        return _found(id, await self.worker.call(Update(id, changes, self.clock())))

    async def delete(self, id: str) -> Event:
        """Delete the event and return it, or raise `NotFound`."""
        return _found(id, await self.worker.call(Delete(id)))

    async def clear(self) -> int:
        """Delete every event; return how many there were."""
        return await self.worker.call(Clear())

    async def list(self, query: Query, token: str | None) -> Listing:
        """Return one page of `query`, continuing after `token` when given."""
        if token is not None:
            secret = await self.cursor_secret()
            query = dataclasses.replace(query, after=cursor.decode(token, query, secret))
        page = await self.worker.call(RunQuery(query))
        next_cursor = prev_cursor = None
        if query.after is not None:
            # The other order pages back from the page's first event, or from where an empty
            # page was asked for. A first page has nothing before it.
            start = page.events[0].position if page.events else cursor.beside(query.after, query)
            prev_cursor = cursor.encode(start, query, await self.cursor_secret())
        if page.more:
            next_cursor = cursor.encode(page.events[-1].position, query, await self.cursor_secret())
        return Listing(page.events, next_cursor, prev_cursor)

    async def newest(self, limit: int) -> Sequence[Event]:
        """Return the `limit` newest events, newest first."""
        return (await self.worker.call(RunQuery(Query(order="desc", limit=limit)))).events

    async def count(self) -> int:
        """Return how many events the store holds."""
        return await self.worker.call(Count(Query()))

    async def cursor_secret(self) -> bytes:
        """Return the store's cursor secret, asked of the store once."""
        if self._cursor_secret is None:
            self._cursor_secret = await self.worker.call(CursorSecret())
        return self._cursor_secret


def _found(id: str, event: Event | None) -> Event:
    if event is None:
        raise NotFound(f"no event with id {id!r}", field="id")
    return event


def _check_body_id(id: str, given: EventIn) -> None:
    if given.id is not UNSET and given.id != id:
        raise InvalidField(f"does not match the id in the path ({id!r})", field="id")
