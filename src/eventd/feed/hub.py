"""The feed hub: tails the engine's change feed and hands each change to the subscribers.

The hub knows changes, not messages: what a subscriber makes of a change (and its bytes) is
its own business (ws/ serialises each change once for all of its sockets). A subscriber must
take a change without waiting: one that cannot keep up is told it lost changes, and never
slows the hub or the other subscribers. Subscriptions that replay history live in replay.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from eventd.feed.values import ChangeValues
from eventd.store.base import Change, Engine, FeedPage, StorageError

log = logging.getLogger(__name__)
DISPATCH_SLICE = 64  # changes handed out at most between two yields to the loop
# Seconds of dispatching at most between two yields: what a change costs varies (an event
# inserted into a long timeline, many subscribers), so a slice also ends on the clock.
DISPATCH_BUDGET = 0.005
DISPATCH_STEP = 8  # changes handed out between two looks at the clock
REPLAYS_AT_ONCE = 4  # replays that take their turn on the loop at the same time


class Subscriber(Protocol):
    """What the hub needs of a subscription (see replay.Subscription)."""

    def matches(self, change: Change) -> bool:
        """Tell whether the subscriber wants `change`."""

    def offer(self, change: Change) -> None:
        """Take `change` now, without waiting; it follows every change offered before."""

    def overflow(self) -> None:
        """Stop taking changes: some were lost to the subscriber, which must resume."""


class Hub:
    """Tails one engine's feed and dispatches changes to every subscription, in order."""

    def __init__(self, engine: Engine, *, block: float = 1.0) -> None:
        self.engine = engine
        self.position = 0  # the last position dispatched
        self.epoch: str | None = None  # the feed's epoch as of `position`, once read
        self._epoch_unsure = False  # changes were lost: a `cleared` among them goes unseen
        # Checks that the store still holds the history the hub follows (see `_history_lost`).
        self._next_check = 0.0  # the event loop's time of the next check
        self._suspect: tuple[str, int] | None = None  # an unexplained epoch, and the head then
        self._lost: str | None = None  # the epoch whose history the store lost, to renew
        self._subscriptions: set[Subscriber] = set()
        # Held by a replay while it hands out a page (see replay.Subscription._send_page).
        self.replaying = asyncio.Semaphore(REPLAYS_AT_ONCE)
        # What subscribers filter on in the changes' events, read once for all of them.
        self.values = ChangeValues()
        self._listeners: list[Callable[[Change], None]] = []
        self._gap_listeners: list[Callable[[], None]] = []
        self._block = block
        self._task: asyncio.Task[None] | None = None
        self._started = False
        self._stopping = False
        self.error: str | None = None  # why the last read of the feed failed, until one works
        self.failing_since: float | None = None  # loop time of the first failed read in a row

    async def start(self) -> None:
        """Start tailing from the feed's current head (once the store can tell it)."""
        self._started = False
        self._stopping = False
        try:
            await self._read_start()
        except StorageError as exc:
            self.error = str(exc)
            log.warning("feed: cannot read the feed's head yet: %s", exc)
        self._task = asyncio.create_task(self._run(), name="feed-hub")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop tailing; give up waiting after `grace` seconds (and say so)."""
        if self._task is not None:
            # The flag ends the loop even if a client library swallows the cancellation of a
            # blocking read (redis-py can: redis/redis-py#2028); then it ends within `block`.
            self._stopping = True
            self._task.cancel()
            done, _ = await asyncio.wait({self._task}, timeout=grace)
            if not done:
                log.warning("feed: the tailing task did not stop within %.1f s", grace)
            self._task = None

    @property
    def ready(self) -> bool:
        """Tell whether the hub knows where the feed stands (its head and epoch)."""
        return self._started

    async def _read_start(self) -> None:
        """Take the feed's head and epoch as the point from which changes are pushed."""
        if self._lost is not None:  # before the head: a write after it is in the new epoch
            await self.engine.renew_epoch(self._lost)
            self._lost = None
        # The head first: a clear in between is then dispatched, with its epoch, after it.
        self.position = (await self.engine.read_changes(0, 1)).head
        self.epoch = await self.engine.feed_epoch()
        self._started = True

    def subscribe(self, subscription: Subscriber) -> int:
        """Register a subscription; return the position after which it receives changes live.

        This is synchronous on purpose: nothing is dispatched between the registration and
        the reading of `position`, so a replay up to it joins the live stream exactly.
        """
        self._subscriptions.add(subscription)
        return self.position

    def listen(
        self, listener: Callable[[Change], None], on_gap: Callable[[], None] | None = None
    ) -> None:
        """Call `listener` with every change, in order, before the subscribers get it, and
        `on_gap` when changes were lost to the hub (a burst larger than the feed's history)."""
        self._listeners.append(listener)
        if on_gap is not None:
            self._gap_listeners.append(on_gap)

    def _gap(self, position: int) -> None:
        log.warning(
            "feed: changes %d to %d left the feed's history before they were read; "
            "subscribers are closed to resume, listeners resynchronise",
            self.position + 1,
            position - 1,
        )
        self._epoch_unsure = True
        for on_gap in self._gap_listeners:
            on_gap()
        for subscription in self._subscriptions:
            subscription.overflow()

    def unsubscribe(self, subscription: Subscriber) -> None:
        self._subscriptions.discard(subscription)

    async def read_changes(self, after: int, limit: int) -> FeedPage:
        """Return up to `limit` changes of the feed's history after `after` (for replays)."""
        return await self.engine.read_changes(after, limit)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                if not self._started:  # history before the start is for replays, not pushing
                    await self._read_start()
                    # A late start (the store was away, or lost its history): listeners may
                    # have rebuilt from the store before writes that the head now passes, and
                    # those changes are never dispatched. They resynchronise.
                    for on_gap in self._gap_listeners:
                        on_gap()
                    continue
                if self._epoch_unsure:
                    self.epoch = await self.engine.feed_epoch()
                    self._epoch_unsure = False
                changes = await self._next_changes()
            except StorageError as exc:
                self.error = str(exc)
                if self.failing_since is None:
                    self.failing_since = asyncio.get_running_loop().time()
                failures += 1
                if failures == 1:
                    log.warning("feed: cannot read changes: %s", exc)
                await asyncio.sleep(min(0.05 * 2**failures, 2.0))
                continue
            self.error = self.failing_since = None
            if failures:
                log.info("feed: reading changes again after %d failures", failures)
                failures = 0
            # A bulk import is one burst of changes: hand it out in slices, letting the
            # sockets' writer tasks send in between, so healthy subscribers keep up.
            start = 0
            while start < len(changes):
                start = self._dispatch_slice(changes, start)
                await asyncio.sleep(0)

    async def _next_changes(self) -> list[Change]:
        """Return the changes after `position`, checking now and then that the store still
        holds the history they continue."""
        loop = asyncio.get_running_loop()
        if loop.time() >= self._next_check:
            self._next_check = loop.time() + self._block
            if await self._history_lost():
                self._begin_again()
                return []
        return await self.engine.wait_changes(self.position, self._block)

    async def _history_lost(self) -> bool:
        """Tell whether the store lost the history the hub follows: it came back empty (a
        flushed Redis) or older (a snapshot restored), so its positions go back or repeat."""
        stored = await self.engine.stored_epoch()  # first: a clear after it is in the head
        head = (await self.engine.read_changes(self.position, 1)).head
        suspect, self._suspect = self._suspect, None
        if stored is None or head < self.position:
            return True
        if stored == self.epoch:
            return False
        # Another epoch: a clear still on its way through the feed, or a history that another
        # daemon began anew. Lost if, one check later, the hub went past the head read with
        # it and still did not see that epoch begin.
        if suspect is None or suspect[0] != stored:
            self._suspect = (stored, head)
            return False
        if self.position < suspect[1]:
            self._suspect = suspect
            return False
        return True

    def _begin_again(self) -> None:
        """Start over on the store's new history: close the subscribers (they resume, and the
        new epoch tells them their history is gone), resynchronise the listeners."""
        log.warning(
            "feed: the store lost the feed's history (emptied, or an older copy restored) "
            "after position %d of epoch %s; a new epoch begins",
            self.position,
            self.epoch,
        )
        self._started = False  # subscriptions wait until the hub has read the new head
        self._lost, self.epoch = self.epoch, None  # unknown until then, in `welcome` too
        self.engine.forget_written_position()
        for on_gap in self._gap_listeners:
            on_gap()
        for subscription in self._subscriptions:
            subscription.overflow()

    def _dispatch_slice(self, changes: list[Change], start: int) -> int:
        """Dispatch the changes from `start` on, up to `DISPATCH_SLICE` of them or until
        `DISPATCH_BUDGET` has passed; return where the next slice starts."""
        deadline = time.perf_counter() + DISPATCH_BUDGET
        end = min(len(changes), start + DISPATCH_SLICE)
        while start < end:
            step = min(end, start + DISPATCH_STEP)
            self.dispatch(changes[start:step])
            start = step
            if time.perf_counter() >= deadline:
                break
        return start

    def dispatch(self, changes: list[Change]) -> None:
        """Send each change to every matching subscription (no await: order is kept)."""
        for change in changes:
            if change.position <= self.position:
                continue
            if change.position > self.position + 1:
                self._gap(change.position)
            self.position = change.position
            if change.epoch is not None:
                self.epoch = change.epoch
            for listener in self._listeners:
                try:
                    listener(change)
                except Exception:  # a listener's bug must not stop the feed for everyone
                    log.exception("feed: a listener failed on change %d", change.position)
            for subscription in self._subscriptions:
                if subscription.matches(change):
                    subscription.offer(change)
