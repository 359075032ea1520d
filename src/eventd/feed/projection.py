"""State kept from the change feed: rebuilt from the store, then fed change by change.

A feature that keeps state derived from the stored events (the statistics' windows; timelines
and reminders next) subclasses `Projection` and says how to build that state; the base does
the rest, the same way for every feature:

- `start()` listens to the hub, then rebuilds from the store. Changes the hub dispatches
  while a rebuild reads the store are held, and applied in order once it has read
  everything, so that none falls between the read and the live feed. A change can thus
  reach the state twice (read by the rebuild, then applied): `apply` must leave the same
  state either way (an upsert, a delete of what may be gone already).
- A gap (changes lost to the hub, or a store that lost its history) starts a rebuild in the
  background; a gap during a rebuild makes it rebuild again once it ends, since its read
  may have missed the lost changes too. While the store does not answer, the rebuild is
  retried with backoff: `retry_first` seconds, doubling up to `retry_max`.
- `caught_up()` waits until the state holds every change this daemon's acknowledged writes
  made (read-your-writes), at most `catch_up_timeout` seconds.

A subclass sets `name` (its log lines' prefix and its rebuild task's name) and `kept` (what
its log lines call the state), and implements:

- `reset()`: empty the state; the first step of every rebuild.
- `query()`: the events a rebuild reads, asked after `reset()`.
- `load_event(event)`: take in one stored event during a rebuild.
- `forget(event)`: drop a deleted event (as it was last known) from the state.

It may override `load()` to read the store some other way. `apply(change)` takes in one
change of the feed through those hooks: `created` and `updated` through `load_event`,
`deleted` through `forget`, `cleared` through `reset`; `reminder` (a reminder was sent)
carries the event unchanged and is ignored. The hooks run on the event loop,
between awaits of the base: they must not await, and should be quick, since a change reaches
the subscribers only after every listener has taken it. Log lines go to the logger of the
subclass's module, so that they read as the feature's own.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from typing import Any, ClassVar, Protocol

from eventd.counters import Counters
from eventd.feed.hub import Hub
from eventd.model import Event
from eventd.store.base import Change, Query, StorageError
from eventd.store.worker import StoreWorker

PROGRESS_EVERY = 100_000  # events read between two log lines of a long rebuild
# Events or changes taken in between two yields to the loop during a rebuild: a store page
# at once held the loop too long (issue 20; bench scenario 12 measures the lag).
SLICE = 200
DROP_SLICE = 1000  # entries of old state freed in one turn of the loop


class Droppable(Protocol):
    """A container of old state that can be emptied an entry at a time (a dict, a SortedDict)."""

    def __len__(self) -> int: ...

    def popitem(self) -> Any: ...


class Projection:
    """State kept from the feed: rebuilt from the store, held during rebuilds, fed live."""

    name: ClassVar[str] = "projection"
    kept: ClassVar[str] = "state"
    retry_first: ClassVar[float] = 0.5  # seconds before the first retry of a failed rebuild
    retry_max: ClassVar[float] = 10.0

    def __init__(self, worker: StoreWorker, hub: Hub, *, catch_up_timeout: float = 5.0) -> None:
        self.worker = worker
        self.hub = hub
        self.catch_up_timeout = catch_up_timeout
        self.log = logging.getLogger(type(self).__module__)
        self._held: list[Change] | None = None  # a list while a rebuild reads the store
        self._rebuilding: asyncio.Task[None] | None = None
        self._starting = False  # the rebuild of `start` runs (not as a task)
        self._gap_again = False  # a gap came while a rebuild ran
        self._resyncing = False  # changes were lost: the state waits for a rebuild
        # Requests waiting for the state to reach a feed position (see `caught_up`): a heap by
        # position, so that a change looks at the nearest one only, not at every waiter.
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._waiter_ids = itertools.count()  # ties in position never compare the futures
        self._abandoned = 0  # waiters in the heap whose requests stopped waiting
        self.counters = Counters()  # the app's, once its setup sets them: counts rebuilds
        self._discarded: list[Droppable] = []  # old state to free, a slice at a time
        self._dropping: asyncio.Task[None] | None = None

    # The hooks of a subclass.

    def reset(self) -> None:
        """Empty the state: the first step of every rebuild."""
        raise NotImplementedError

    def query(self) -> Query:
        """Return the query whose events a rebuild reads (asked after `reset`)."""
        raise NotImplementedError

    def load_event(self, event: Event) -> None:
        """Take in one stored event during a rebuild."""
        raise NotImplementedError

    def forget(self, event: Event) -> None:
        """Drop what the state holds of `event`, which was deleted (it may be gone already)."""
        raise NotImplementedError

    def apply(self, change: Change) -> None:
        """Take in one change of the feed; the same change twice leaves the same state.

        By default a created or updated event is taken in as a rebuild takes it
        (`load_event`, an upsert), a deleted one is forgotten, a clear resets the state, and
        a sent reminder, which carries its event unchanged, is ignored."""
        event = change.event
        if change.op == "reminder":
            return
        if change.op == "cleared":
            self.reset()
        elif event is not None and change.op == "deleted":
            self.forget(event)
        elif event is not None:
            self.load_event(event)

    async def load(self) -> int:
        """Read the store into the emptied state; return how many events were read."""
        count = 0
        async for event in self.worker.scan(self.query()):
            self.load_event(event)
            count += 1
            if count % SLICE == 0:
                await asyncio.sleep(0)
                if count % PROGRESS_EVERY == 0:
                    self.log.info("%s: rebuilding %s, %d events read", self.name, self.kept, count)
        return count

    # The base's work.

    async def start(self) -> None:
        """Listen to the feed, then build the state from the store."""
        self.hub.listen(self._on_change, on_gap=self._on_gap)
        self._starting = True
        try:
            await self.rebuild()
        except StorageError as exc:
            self.log.warning(
                "%s: cannot read the store yet (%s); will rebuild when it answers", self.name, exc
            )
            self._gap_again = True
        else:
            if self._gap_again:
                self._log_lost_during_rebuild()
        finally:
            self._starting = False
        if self._gap_again:
            self._on_gap()

    async def stop(self) -> None:
        """Stop a rebuild that runs in the background, and the freeing of old state."""
        for task in (self._rebuilding, self._dropping):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)

    def discard(self, *containers: Droppable) -> None:
        """Free the containers of old state (from `reset`) a slice per turn of the loop, in
        a task: freeing a large state at once holds the loop about as long as building it."""
        self._discarded.extend(container for container in containers if len(container))
        if not self._discarded or (self._dropping is not None and not self._dropping.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop runs (the state used alone): free it now
            self._discarded.clear()
            return
        self._dropping = loop.create_task(self._drop(), name=f"{self.name}-drop")

    async def _drop(self) -> None:
        """Free the discarded containers, the last given first."""
        discarded = self._discarded
        while discarded:
            container = discarded[-1]
            for _ in range(min(len(container), DROP_SLICE)):
                container.popitem()
            if not len(container):
                discarded.pop()
            await asyncio.sleep(0)

    async def rebuild(self) -> None:
        """Rebuild the state from the store; changes seen meanwhile are applied after."""
        self._held = []
        self.reset()
        count = await self.load()
        await self._apply_held()
        self.log.info("%s: %s rebuilt from %d events", self.name, self.kept, count)
        self.counters.rebuilds[self.name] += 1
        self._wake()

    async def _apply_held(self) -> None:
        """Apply the changes held during the read, in order, a slice at a time; changes
        that come meanwhile are held behind them, until none is left."""
        held = self._held
        assert held is not None, "a rebuild holds changes"
        done = 0
        while len(held) - done > SLICE:
            for change in held[done : done + SLICE]:
                self.apply(change)
            done += SLICE
            await asyncio.sleep(0)
        # No await from here: the last changes are applied, and new ones go straight in.
        for change in held[done:]:
            self.apply(change)
        self._held = None

    def _on_gap(self) -> None:
        self._resyncing = True
        if self._starting or (self._rebuilding is not None and not self._rebuilding.done()):
            # Changes were lost while a rebuild ran: its read may have missed them too.
            self._gap_again = True
        else:
            self._rebuilding = asyncio.create_task(
                self._rebuild_until_done(), name=f"{self.name}-rebuild"
            )

    async def _rebuild_until_done(self) -> None:
        """Rebuild, retrying with backoff while the store is away, and again if changes were
        lost meanwhile."""
        delay = self.retry_first
        while True:
            self._gap_again = False
            try:
                await self.rebuild()
            except StorageError as exc:
                # The store worker's log warns of the outage and says when it ends.
                level = logging.INFO if delay == self.retry_first else logging.DEBUG
                self.log.log(
                    level, "%s: rebuild failed (%s); retrying in %.1f s", self.name, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            if not self._gap_again:
                self._resyncing = False
                self._wake()
                return
            self._log_lost_during_rebuild()

    def _log_lost_during_rebuild(self) -> None:
        self.log.info("%s: changes were lost during the rebuild; rebuilding again", self.name)

    def _on_change(self, change: Change) -> None:
        if self._held is not None:
            self._held.append(change)
        else:
            self.apply(change)
            if self._waiters:
                self._wake()

    @property
    def settled(self) -> bool:
        """Tell whether changes reach the state as they come (no rebuild holds or awaits them)."""
        return self._held is None and not self._resyncing

    def _holds(self, position: int) -> bool:
        """Tell whether the state holds every change up to the feed position `position`."""
        return self.hub.position >= position and self.settled

    async def caught_up(self) -> bool:
        """Wait until the state holds every change this daemon's writes made, as far as they
        were applied when called; tell whether it did within `catch_up_timeout` seconds.

        When it already does (the usual case), this returns at once and asks the store
        nothing: the worker knows the position of the last change it applied.
        """
        target = self.worker.written_position
        if self._holds(target):
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (target, next(self._waiter_ids), waiter))
        try:
            async with asyncio.timeout(self.catch_up_timeout):
                await waiter
        except TimeoutError:
            self.log.info(
                "%s: the %s did not reach feed position %d in time", self.name, self.kept, target
            )
            return False
        finally:
            # A request that stopped waiting (its waiter cancelled with it, or not yet) leaves
            # its entry in the heap: count it, so that such entries are dropped in time.
            if not waiter.done() or waiter.cancelled():
                waiter.cancel()
                self._forget_one()
        return True

    def _forget_one(self) -> None:
        """Count a waiter that stopped waiting; drop such waiters once they are half the heap."""
        self._abandoned += 1
        if self._abandoned > len(self._waiters) // 2:
            self._waiters = [entry for entry in self._waiters if not entry[2].done()]
            heapq.heapify(self._waiters)
            self._abandoned = 0

    def _wake(self) -> None:
        """Let the requests waiting for a position the state has reached go on."""
        if not self.settled:
            return
        position = self.hub.position
        while self._waiters and self._waiters[0][0] <= position:
            _, _, waiter = heapq.heappop(self._waiters)
            if waiter.done():  # its request stopped waiting
                self._abandoned -= 1
            else:
                waiter.set_result(None)
