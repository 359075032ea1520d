"""The store worker's commands: one slotted class per operation, each running itself.

A command holds its arguments and a reply future; `run` performs it on the engine, and `reads`
says whether it only reads (a read whose caller has gone is skipped). Adding a store operation
means one command class here plus the engine method(s) it calls: the worker's loop does not
change. A command that needs an optional capability asks for it with `require` (see
`store.base`), which answers `Unsupported` on an engine without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from eventd.model import Event
from eventd.store.base import (
    Engine,
    Page,
    Pings,
    PutResult,
    Query,
    Reminder,
    ReminderPage,
    ReminderQuery,
    Reminders,
)

T = TypeVar("T")


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@dataclass(slots=True, frozen=True)
class Command(Generic[T]):
    """A request to the worker; the worker answers through `reply`."""

    reply: asyncio.Future[T] = field(default_factory=_future, init=False, repr=False)
    # Whether the command only reads: one whose caller has gone is then not applied.
    reads: ClassVar[bool] = False

    @property
    def size(self) -> int:
        """Return how many events the command writes (a put's allowance by size)."""
        return 0

    async def run(self, engine: Engine) -> T:
        """Perform the command on `engine` and return its result."""
        raise NotImplementedError(f"{type(self).__name__} does not run on an engine")


@dataclass(slots=True, frozen=True)
class PutMany(Command[list[PutResult]]):
    """Store events; consecutive puts are folded into one engine call by the worker."""

    events: Sequence[Event]

    @property
    def size(self) -> int:
        return len(self.events)

    async def run(self, engine: Engine) -> list[PutResult]:
        return await engine.put_many(self.events)


@dataclass(slots=True, frozen=True)
class Get(Command[Event | None]):
    id: str
    reads = True

    async def run(self, engine: Engine) -> Event | None:
        return await engine.get(self.id)


@dataclass(slots=True, frozen=True)
class Update(Command[Event | None]):
    id: str
    changes: Mapping[str, Any]
    updated: int

    async def run(self, engine: Engine) -> Event | None:
        return await engine.update(self.id, self.changes, self.updated)


@dataclass(slots=True, frozen=True)
class Delete(Command[Event | None]):
    id: str

    async def run(self, engine: Engine) -> Event | None:
        return await engine.delete(self.id)


@dataclass(slots=True, frozen=True)
class RunQuery(Command[Page]):
    query: Query
    reads = True

    async def run(self, engine: Engine) -> Page:
        return await engine.query(self.query)


@dataclass(slots=True, frozen=True)
class Count(Command[int]):
    query: Query
    reads = True

    async def run(self, engine: Engine) -> int:
        return await engine.count(self.query)


@dataclass(slots=True, frozen=True)
class Clear(Command[int]):
    async def run(self, engine: Engine) -> int:
        return await engine.clear()


@dataclass(slots=True, frozen=True)
class CursorSecret(Command[bytes]):
    reads = True

    async def run(self, engine: Engine) -> bytes:
        return await engine.cursor_secret()


@dataclass(slots=True, frozen=True)
class Ping(Command[None]):
    """A cheap round trip through the queue: the worker's loop and the engine both answer."""

    reads = True

    async def run(self, engine: Engine) -> None:
        if isinstance(engine, Pings):
            await engine.ping()


@dataclass(slots=True, frozen=True)
class Stop(Command[None]):
    """Ends the worker loop once everything queued before it is done; never runs."""


@dataclass(slots=True, frozen=True)
class NextDue(Command[int | None]):
    """The earliest due time of a pending reminder."""

    reads: ClassVar[bool] = True

    async def run(self, engine: Engine) -> int | None:
        return await Reminders.of(engine).next_due()


@dataclass(slots=True, frozen=True)
class ClaimDue(Command[list[Reminder]]):
    """Claim the reminders due by `now`: each is sent (a feed entry) or missed, once."""

    now: int
    limit: int
    late_grace: int  # µs

    async def run(self, engine: Engine) -> list[Reminder]:
        return await Reminders.of(engine).claim_due(self.now, self.limit, self.late_grace)


@dataclass(slots=True, frozen=True)
class ListReminders(Command[ReminderPage]):
    """A page of reminders in due order."""

    query: ReminderQuery
    reads: ClassVar[bool] = True

    async def run(self, engine: Engine) -> ReminderPage:
        return await Reminders.of(engine).list_reminders(self.query)


@dataclass(slots=True, frozen=True)
class EventReminders(Command[list[Reminder]]):
    """Every reminder of one event."""

    event_id: str
    reads: ClassVar[bool] = True

    async def run(self, engine: Engine) -> list[Reminder]:
        return await Reminders.of(engine).event_reminders(self.event_id)
