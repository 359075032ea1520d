"""Subscriptions to the feed that may begin with a replay of its history, all in one place.

A subscription with `since` replays the changes after it, then goes live; the hand-over must
neither drop nor repeat a change, and the subscription must never go silent:

- `start()` registers with the hub and reads where live changes begin (and the feed's epoch)
  in one synchronous step: nothing is dispatched in between, so a replay up to that point
  joins the live stream exactly.
- `check()` reads the first page of history and tells whether the feed continues from `since`
  (same epoch, not ahead of the head, not trimmed); if not, the subscription ends there.
- While the replay runs, live changes are held (at most `hold_limit` of them); `replay()`
  sends the history up to the start point, releases what was held, then lets changes go
  straight to the target. One more held change, or a target without room, overflows the
  subscription: it gets nothing more, and `target.lost()` has its owner close it so that the
  subscriber resumes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from eventd.feed.hub import Hub
from eventd.fields import FieldPath, canonical
from eventd.store.base import Change, FeedPage, Op

REPLAY_PAGE = 500
Reason = Literal["epoch", "ahead", "trimmed"]


class Target(Protocol):
    """Where one subscription's changes go (a WebSocket subscription: ws/connection.py)."""

    def begin(self, live_from: int, since: int | None) -> None:
        """Note that live changes follow `live_from`, and a replay begins after `since`."""

    def live(self, change: Change) -> bool:
        """Take a live change now; return False when there is no room for it."""

    def take(self, change: Change) -> bool:
        """Take a replayed change if there is room now; return False if not (or gone)."""

    async def send(self, change: Change) -> bool:
        """Take a replayed change, waiting for room; return False once the target is gone."""

    async def caught_up(self, position: int) -> None:
        """Note that the replay is over: every change up to `position` was taken."""

    def lost(self) -> None:
        """Have the subscriber resume: changes were lost to it."""


@dataclass(frozen=True, slots=True)
class Discontinuity:
    """Why the feed cannot continue from a subscription's `since`, and what the feed holds."""

    reason: Reason
    oldest: int
    head: int
    epoch: str | None


class Subscription:
    """The changes of some ops, types and keys after `since` (or from now on), in order, once.

    `where` keeps only the changes whose event has each value at its path (JSON equality);
    the hub reads those values once per change for all of its subscriptions.
    """

    def __init__(
        self,
        hub: Hub,
        target: Target,
        *,
        types: frozenset[str] | None = None,
        keys: frozenset[str] | None = None,
        ops: frozenset[Op] | None = None,
        where: tuple[tuple[FieldPath, Any], ...] = (),
        since: int | None = None,
        epoch: str | None = None,
        hold_limit: int = 1000,
    ) -> None:
        self.hub = hub
        self.target = target
        self.types = types
        self.keys = keys
        self.ops = ops  # None: every op
        self.where = [(path, canonical(value)) for path, value in where]
        self.since = since
        self.asked_epoch = epoch  # the epoch `since` belongs to, if the subscriber knows it
        self.after = since or 0  # changes up to this position were asked not to be sent again
        self.hold_limit = hold_limit
        # Live changes that wait for the replay to end; None once they go straight out.
        self.held: list[Change] | None = [] if since is not None else None
        self.overflowed = False
        self.live_from = 0  # the hub's position when it subscribed
        self.epoch: str | None = None  # the feed's epoch then
        self._page: FeedPage | None = None  # the replay's first page, once checked

    def start(self) -> int:
        """Register with the hub and read where live changes begin, in one step; return it."""
        # No await in here: the replay ends, and the epoch is read, where live begins.
        self.live_from = self.hub.subscribe(self)
        self.epoch = self.hub.epoch
        self.target.begin(self.live_from, self.since)
        return self.live_from

    async def check(self) -> Discontinuity | None:
        """Read the replay's first page; if the feed does not continue from `since`, end the
        subscription and say why."""
        if self.since is None:
            return None
        page = await self.hub.read_changes(self.since, REPLAY_PAGE)
        reason = self._discontinuity(page)
        if reason is not None:
            self.close()
            return Discontinuity(reason, page.oldest, page.head, self.epoch)
        self._page = page
        return None

    def _discontinuity(self, page: FeedPage) -> Reason | None:
        assert self.since is not None
        asked, epoch = self.asked_epoch, self.epoch
        if asked is not None and epoch is not None and asked != epoch:
            return "epoch"  # the store was cleared, or is another (a restarted memory daemon)
        if self.since > page.head:
            return "ahead"  # no such position yet: another store, or one that restarted empty
        if page.oldest > self.since + 1:
            return "trimmed"  # older than the feed's history
        return None

    async def replay(self) -> None:
        """Send the matching changes after `since` up to the start point, then those held."""
        page, self._page = self._page, None
        if page is None:
            return
        until = self.live_from
        while page.changes and page.changes[0].position <= until:
            changes = [change for change in page.changes if change.position <= until]
            if not await self._send_page(changes):
                return  # the subscriber is closed: it resumes where it got to
            page = await self.hub.read_changes(page.changes[-1].position, REPLAY_PAGE)
        await self._release()

    async def _send_page(self, changes: list[Change]) -> bool:
        """Send the matching `changes`, in order; return False once the subscriber is closed.

        Many replays at once would each take a page in every turn of the loop, and a request
        would wait for all of those steps: a few replays take their turn at once
        (`Hub.replaying`), and one lets go of its turn while its subscriber has no room.
        """
        at = 0
        while at < len(changes):
            async with self.hub.replaying:
                at = self._take(changes, at)
                # The turn is kept across a yield, so that only the replays that hold one run
                # in a turn of the loop. (A store in the process reads without suspending, and
                # a target with room takes without waiting: without this yield, a whole replay
                # would be one step.)
                await asyncio.sleep(0)
            if at < len(changes):
                if self.overflowed or not await self.target.send(changes[at]):
                    return False
                at += 1
        return not self.overflowed

    def _take(self, changes: list[Change], at: int) -> int:
        """Give the target the matching changes from `at` on while it has room; return
        where it stopped."""
        while at < len(changes):
            change = changes[at]
            if self.overflowed:
                return len(changes)
            if self.matches(change) and not self.target.take(change):
                return at
            at += 1
        return at

    async def _release(self) -> None:
        """Send the live changes held during the replay, then let new ones go out directly."""
        while self.held and not self.overflowed:
            held, self.held = self.held, []
            for change in held:
                if not await self.target.send(change):
                    return
        if self.overflowed:
            return
        # No await since `held` was found empty: every change up to the hub's position is sent.
        self.held = None
        await self.target.caught_up(self.hub.position)

    def close(self) -> None:
        """Stop receiving changes."""
        self.hub.unsubscribe(self)

    def matches(self, change: Change) -> bool:
        """Tell whether the subscriber wants `change`."""
        if self.ops is not None and change.op not in self.ops:
            return False
        event = change.event
        if event is None:
            return True  # `cleared` concerns every subscriber
        if self.types is not None and event.type not in self.types:
            return False
        if self.keys is not None and event.key not in self.keys:
            return False
        values = self.hub.values
        return all(values.value(change, path) == wanted for path, wanted in self.where)

    def offer(self, change: Change) -> None:
        """Take a live change: hold it while the replay runs, else pass it on."""
        if self.overflowed or change.position <= self.after:
            return
        if self.held is not None:
            if len(self.held) >= self.hold_limit:
                self.overflow()
            else:
                self.held.append(change)
        elif not self.target.live(change):
            self.overflow()

    def overflow(self) -> None:
        """Stop sending: changes are lost to this subscriber, which must resume."""
        self.overflowed = True
        self.target.lost()
