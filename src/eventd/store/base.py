"""The engine contract: the only interface through which eventd touches storage.

`Engine` is what every engine implements in full. What only some engines can do is an
optional capability: a small `Capability` ABC that an engine class also inherits when, and
only when, it supports it. Code asks with `isinstance(engine, Capability)` where there is a
fallback (an engine in the process has nothing to ping), and a store command that cannot do
without one calls `require(engine, Capability)` in its `run`, which raises `Unsupported`
naming the engine and what it cannot do (`Capability.of(engine)` does the same for an
abstract capability). The capabilities today:

- `Pings`: a backend outside the process, which can fail to answer a health check;
- `ReportsRoundTrips`: a put reports every round trip, so the worker bounds each one rather
  than giving a large put extra time by its size;
- `Reminders`: every write keeps the event's reminders, and due ones are claimed once.

A capability is added in three places: its ABC here, with the contract in its docstring; the
engines that support it, which inherit it; a command in `store/commands.py` per operation,
whose `run` asks for it. The worker's loop does not change.
"""

from __future__ import annotations

import dataclasses
import secrets
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Self, TypeVar

import msgspec

from eventd.config import Config, parse_offsets, parse_paths
from eventd.fields import FieldPath
from eventd.model import Event

Order = Literal["asc", "desc"]
Position = tuple[int, int]


class StorageError(Exception):
    """The engine's backend failed; every backend exception is wrapped into this."""


class IdConflict(Exception):
    """A put carries an id that is stored with different content; nothing was written."""

    def __init__(self, index: int, id: str) -> None:
        super().__init__(f"id {id!r} exists with different content")
        self.index = index
        self.id = id


@dataclass(frozen=True, slots=True)
class Query:
    """A time-ordered selection. `after` is an exclusive keyset position in `order`.

    `where` holds field-value clauses, ANDed: `(path, value)` selects the events whose value
    at `path` equals `value` by JSON equality (see `store/where.py`).
    """

    start: int | None = None
    end: int | None = None
    type: str | None = None
    key: str | None = None
    after: Position | None = None
    order: Order = "asc"
    limit: int = 100
    where: tuple[tuple[FieldPath, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class Page:
    events: list[Event]
    more: bool


Op = Literal["created", "updated", "deleted", "cleared", "reminder"]
ReminderState = Literal["pending", "sent", "missed", "cancelled"]
ReminderPosition = tuple[int, str, int]  # (due, event_id, offset): the order of reminders
LATE_AFTER = 1_000_000  # µs: a reminder sent later than this after it could be is `late`


class Reminder(msgspec.Struct, frozen=True, gc=False):
    """One reminder of one event, identified by `(event_id, ts, offset)`.

    It is armed by the write that gives the event its timestamp `ts` and an offset `offset`
    (from its `remind`, or the engine's default offsets when `remind` is null), and is due at
    `due = ts - offset * 1_000_000`. `armed` is that write's time (the event's `updated`).
    `type` and `key` are the event's, kept current while the reminder is pending (filters).
    `sent_at` is when it was claimed, as `sent` or `missed`; `late` says a sent one went out
    more than `LATE_AFTER` after `max(due, armed)`; `position` is its feed entry's position.
    """

    event_id: str
    ts: int
    offset: int
    due: int
    armed: int
    type: str
    key: str | None
    state: ReminderState = "pending"
    sent_at: int | None = None
    late: bool = False
    position: int | None = None

    @property
    def order(self) -> ReminderPosition:
        """Return the reminder's place in due order."""
        return (self.due, self.event_id, self.offset)


class Change(msgspec.Struct, frozen=True, gc=False):
    """One entry of the change feed. `event` is None only for `cleared`; for `deleted` it is
    the last known event. `epoch` is set only on `cleared`: the feed epoch it begins.
    `reminder` is set only on `reminder`: a reminder that was sent, with the event as stored
    when it was claimed."""

    position: int
    op: Op
    event: Event | None
    epoch: str | None = None
    reminder: Reminder | None = None


@dataclass(frozen=True, slots=True)
class ReminderQuery:
    """Reminders in due order: `start`/`end` bound `due` (inclusive), `after` is exclusive."""

    state: ReminderState = "pending"
    start: int | None = None
    end: int | None = None
    type: str | None = None
    key: str | None = None
    after: ReminderPosition | None = None
    limit: int = 100


@dataclass(frozen=True, slots=True)
class ReminderPage:
    reminders: list[Reminder]
    more: bool


def engine_options(config: Config, section: Any = None) -> dict[str, Any]:
    """Return an engine's constructor keywords: those every engine takes (feed history,
    default reminder offsets, indexed field paths), and each setting of its own
    `[engine.<name>]` section (a dataclass) under the keyword of the same name."""
    own = dataclasses.asdict(section) if section is not None else {}
    offsets = parse_offsets(config.reminders.default_offsets)
    indexed = parse_paths(config.timelines.indexed_fields)
    return own | {
        "history": config.feed.history,
        "default_offsets": offsets,
        "indexed_fields": indexed,
    }


def new_epoch() -> str:
    """Return a fresh feed epoch: a random id, unique for all practical purposes."""
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class FeedPage:
    """Changes after a position, and the oldest position the feed still holds."""

    changes: list[Change]
    oldest: int
    head: int


class PutResult(msgspec.Struct, frozen=True, gc=False):
    """The stored event for one event of a put, and whether the put created it."""

    event: Event
    created: bool


class Engine(ABC):
    """Storage of events ordered by `(ts, seq)`.

    Engines are driven by exactly one `StoreWorker`, so a method never runs concurrently
    with another on the same engine object. Every method raises `StorageError` when the
    backend fails.
    """

    name: str
    # The feed position of the last change this engine object appended (0: none yet), set
    # before the write returns: what an acknowledged write's change is to be read up to.
    written_position: int = 0
    # Seconds within which the backend must answer one round trip; None when it cannot hang.
    timeout: float | None = None
    # Set by the store worker while it runs a call: told of each answer the backend gives,
    # so that a call of many round trips (a large put, a clear) is bounded per round trip.
    on_round_trip: Callable[[], None] | None = None
    # Events read from an index to answer queries and counts, since the engine was made: a
    # test's window on how much a search reads (not a metric).
    events_read: int = 0

    def round_trip(self) -> None:
        """Tell the store worker that the backend answered one round trip of this call."""
        if self.on_round_trip is not None:
            self.on_round_trip()

    @classmethod
    @abstractmethod
    def from_config(cls, config: Config) -> Self:
        """Return an engine with the configuration's settings, not yet opened."""

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Connect and prepare what the engine needs (indexes, scripts)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    @abstractmethod
    async def put_many(self, events: Sequence[Event]) -> list[PutResult]:
        """Store new events, assigning each a `seq` in the given order.

        An event whose id is already stored with the same content is not written again:
        its result carries the stored event and `created=False`. If any id is stored with
        different content, raise `IdConflict` and write nothing.
        """

    @abstractmethod
    async def get(self, id: str) -> Event | None:
        """Return the event with this id, or None."""

    @abstractmethod
    async def update(self, id: str, changes: Mapping[str, Any], updated: int) -> Event | None:
        """Apply content-field changes (see `model.CONTENT_FIELDS`); keep `seq` and `created`.

        Return the stored result, or None when the id is unknown.
        """

    @abstractmethod
    async def delete(self, id: str) -> Event | None:
        """Delete and return the event, or None when the id is unknown."""

    @abstractmethod
    async def query(self, query: Query) -> Page:
        """Return up to `limit` events matching `query` in its order, in O(log n + limit).

        A `where` clause on an indexed field reads that field's index; the other clauses are
        checked on the events read, so a search on fields that are not indexed costs as many
        reads as the events the other filters select up to the page's end.
        """

    @abstractmethod
    async def count(self, query: Query) -> int:
        """Count the events matching the filters of `query` (cursor and limit ignored).

        With `where` clauses that the index read does not answer, this reads the range."""

    @abstractmethod
    async def clear(self) -> int:
        """Delete every event; return how many there were."""

    @abstractmethod
    async def cursor_secret(self) -> bytes:
        """Return the store's secret for signing listing cursors, made once per store.

        Every engine on the same store returns the same bytes, so that each daemon accepts
        the others' cursors; `clear` keeps it.
        """

    # The change feed. Every mutation above appends to it, in the order it was applied, with
    # positions 1, 2, 3, ... The two readers below are read-only and, unlike the methods
    # above, may run beside the worker's calls (the feed hub tails with them).

    @abstractmethod
    async def read_changes(self, after: int, limit: int) -> FeedPage:
        """Return up to `limit` changes with positions after `after`, oldest first."""

    @abstractmethod
    async def wait_changes(self, after: int, block: float) -> list[Change]:
        """Return the changes after `after`, waiting up to `block` seconds for one to appear."""

    # The feed's epoch names its history: positions mean something only within one epoch.
    # A new one begins when the feed's history begins (a new store) and with every `clear`,
    # whose change carries it; positions still keep growing across a clear.

    @abstractmethod
    async def feed_epoch(self) -> str:
        """Return the feed's current epoch (the same for every daemon on one store)."""

    # A store can lose its history under a running daemon (a Redis flushed, or an older
    # snapshot restored): the feed hub notices with these and begins a new epoch.

    async def stored_epoch(self) -> str | None:
        """Return the feed's epoch as stored, or None when the store no longer has one."""
        return await self.feed_epoch()  # an in-process store cannot lose it

    async def renew_epoch(self, lost: str) -> str:
        """Begin a new epoch unless the feed's epoch is already another than `lost` (made
        by another daemon); return the feed's epoch."""
        return await self.feed_epoch()  # an in-process store cannot lose its history

    def _written(self, position: int) -> None:
        """Record that this engine appended the change at feed `position`."""
        self.written_position = max(self.written_position, position)

    def forget_written_position(self) -> None:
        """Forget the position of the last change written: it belongs to a lost history."""
        self.written_position = 0


class Unsupported(Exception):
    """A command needs a capability its engine does not have: a setup error, not an outage."""


class Capability(ABC):
    """An optional part of the engine contract; see this module's docstring."""

    # What the capability lets an engine do, completing "the <name> engine cannot ...".
    ability: ClassVar[str]

    @classmethod
    def of(cls, engine: Engine) -> Self:
        """Return `engine` as having this capability; raise `Unsupported` if it has not."""
        able: object = engine  # typed as object: mypy judges the check on an Engine always true
        if isinstance(able, cls):
            return able
        raise Unsupported(f"the {engine.name} engine cannot {cls.ability}")


class Pings(Capability):
    """A backend outside the process, which can fail to answer."""

    ability = "be pinged"

    @abstractmethod
    async def ping(self) -> None:
        """Ask the backend for a cheap answer; may run beside the worker's calls."""


class ReportsRoundTrips(Capability):
    """An engine whose put calls `round_trip` after every round trip it makes.

    The worker then bounds each round trip of a put by the engine's timeout. An engine whose
    driver splits a large write into batches it does not report lacks this capability, and
    its puts get an allowance by size instead.
    """

    ability = "report every round trip of a put"


class Reminders(Capability):
    """An engine that keeps every event's reminders, and claims each due one exactly once.

    Arming. Every write keeps the reminders in the same atomic step as the event (Redis: the
    same Lua script; memory: the same worker call; Mongo: the event's own document), so that
    no crash leaves an event without its reminders or reminders without their event:
    - a write that leaves an event with timestamp `ts` and offsets `O` (its `remind`, or
      `default_offsets` when `remind` is None; `()` means none) arms `(id, ts, o)` for each
      `o` in `O` when `ts > event.updated` (the event has not started at the write), unless
      that reminder exists already in any state but `cancelled` (an edit of the title does
      not send it twice; a cancelled one is armed again, as `pending`, with `armed` renewed);
    - the same write cancels (state `cancelled`) every pending reminder of the event that is
      no longer in its set (the event moved, or an offset was removed), and sets `type` and
      `key` of the pending ones that stay to the event's;
    - a put that answers `created=False` (the same content again) changes nothing;
    - `delete` cancels every pending reminder of the event; `clear` deletes every reminder.

    Claiming. `claim_due(now, limit, late_grace)` takes the pending reminders with
    `due <= now`, in due order, at most `limit`, each atomically and exactly once however
    many daemons share the store:
    - if `now >= ts` (the event started) or `now - max(due, armed) > late_grace`, it becomes
      `missed` (`sent_at = now`), and nothing is appended to the feed;
    - otherwise it becomes `sent` (`sent_at = now`, `late = now - max(due, armed) >
      LATE_AFTER`) and, in the same atomic step, a `reminder` change is appended to the feed,
      carrying the stored event and the sent reminder (with its `position`).
    It returns the reminders it claimed, in their final state. Finding them costs
    O(log n + claimed): an index ordered by due time, never a pass over all events.
    """

    ability = "keep reminders"
    # Offsets (seconds, largest first) armed for an event whose `remind` is None.
    default_offsets: tuple[int, ...] = (300,)

    @abstractmethod
    async def next_due(self) -> int | None:
        """Return the earliest `due` of a pending reminder, or None; O(log n)."""

    @abstractmethod
    async def claim_due(self, now: int, limit: int, late_grace: int) -> list[Reminder]:
        """Claim the pending reminders due by `now` (µs; `late_grace` too): see the class."""

    @abstractmethod
    async def list_reminders(self, query: ReminderQuery) -> ReminderPage:
        """Return up to `limit` reminders in `query.state`, in due order after `after`."""

    @abstractmethod
    async def event_reminders(self, event_id: str) -> list[Reminder]:
        """Return every reminder of the event, in any state, in due order."""


C = TypeVar("C", bound=Capability)


def require(engine: Engine, capability: type[C]) -> C:
    """Return `engine` as having `capability`; raise `Unsupported` if it has not (an abstract
    capability is asked for with `Capability.of(engine)`, which mypy accepts)."""
    return capability.of(engine)
