"""The reminder service: a timer that claims reminders when they fall due, and the listings.

The timer sleeps until the next due time (`NextDue`), then claims what is due (`ClaimDue`):
the engine sends each reminder (a `reminder` entry in the feed, which every daemon's
subscribers get) or records it as missed, exactly once whichever daemon claims it. It never
polls: it wakes early only when the feed brings an event whose earliest reminder may fall
before the time it sleeps until (or changes were lost), and the `reminders-rearm` job wakes
it now and then as a safety net (a missed wake, a clock that jumped). At start-up a first
claim catches up with what fell due while no daemon ran (late, or missed: see
`store.base.Reminders`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from contextlib import suppress

from eventd.counters import Counters
from eventd.errors import Unavailable
from eventd.feed.hub import Hub
from eventd.model import Event
from eventd.store.base import (
    Change,
    Reminder,
    ReminderPage,
    ReminderQuery,
    Reminders,
    StorageError,
)
from eventd.store.commands import ClaimDue, EventReminders, ListReminders, NextDue
from eventd.store.worker import StoreWorker
from eventd.times import US, Clock, format_duration, format_us

log = logging.getLogger(__name__)
CLAIM_LIMIT = 500  # reminders claimed in one store command; more are claimed in further ones
RETRY_FIRST = 0.5  # seconds before the timer tries a store that failed again, doubling
RETRY_MAX = 30.0


class ReminderService:
    """Claims reminders at their due time; lists them."""

    def __init__(
        self,
        worker: StoreWorker,
        hub: Hub,
        clock: Clock,
        *,
        default_offsets: Sequence[int],
        late_grace: float,
    ) -> None:
        self.worker = worker
        self.hub = hub
        self.clock = clock
        self.default_offsets = tuple(default_offsets)
        self.late_grace = round(late_grace * US)
        self.enabled = isinstance(worker.engine, Reminders)
        self._wake = asyncio.Event()
        # The due time the timer sleeps until: None while it is awake or nothing is pending.
        self._until: int | None = None
        self._asleep = False
        self._task: asyncio.Task[None] | None = None
        self.counters = Counters()  # the app's, once its setup sets them

    async def start(self) -> None:
        """Catch up with what fell due while no daemon ran, then start the timer."""
        if not self.enabled:
            log.warning(
                "reminders: the %s engine cannot keep reminders; none are sent",
                self.worker.engine.name,
            )
            return
        self.hub.listen(self._on_change, self.rearm)
        try:
            await self.fire_due()
        except (StorageError, Unavailable) as exc:
            log.warning("reminders: cannot catch up at start-up yet: %s", exc)
        self._task = asyncio.create_task(self._run(), name="reminders-timer")

    async def stop(self) -> None:
        """Stop the timer."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def rearm(self) -> None:
        """Have the timer read the next due time again (coalesced: one wake for many)."""
        self._wake.set()

    async def fire_due(self) -> list[Reminder]:
        """Claim every reminder due by the clock's now; return them as sent or missed."""
        now = self.clock()
        claimed: list[Reminder] = []
        while True:
            batch = await self.worker.call(ClaimDue(now, CLAIM_LIMIT, self.late_grace))
            claimed += batch
            _log_batch(batch, now)
            self._count(batch)
            if len(batch) < CLAIM_LIMIT:
                return claimed

    def _count(self, batch: list[Reminder]) -> None:
        """Count the claimed reminders for metrics: sent (late or not) and missed."""
        for reminder in batch:
            if reminder.state == "missed":
                self.counters.reminders_missed += 1
            else:
                self.counters.reminders_fired += 1
                self.counters.reminders_late += int(reminder.late)

    async def listing(self, query: ReminderQuery) -> ReminderPage:
        """Return one page of reminders in due order."""
        return await self.worker.call(ListReminders(query))

    async def of_event(self, event_id: str) -> list[Reminder]:
        """Return every reminder of the event, in due order."""
        return await self.worker.call(EventReminders(event_id))

    def earliest_due(self, event: Event) -> int | None:
        """Return the due time of the event's first reminder, or None if it gets none."""
        offsets = self.default_offsets if event.remind is None else event.remind
        if not offsets or event.ts <= event.updated:  # none, or it had started at the write
            return None
        return event.ts - max(offsets) * US

    def _on_change(self, change: Change) -> None:
        """Wake the timer when a change may bring a reminder due before it would wake."""
        if change.op not in ("created", "updated") or change.event is None:
            return
        due = self.earliest_due(change.event)
        if due is None:
            return
        # An awake timer may have read the next due time before this write: it looks again.
        if not self._asleep or self._until is None or due < self._until:
            self._wake.set()

    async def _run(self) -> None:
        """Sleep until the next due time, claim what is due, again; never return."""
        failures = 0
        while True:
            self._wake.clear()
            try:
                delay = await self._step()
                failures = 0
            except (StorageError, Unavailable) as exc:
                failures += 1
                if failures == 1:
                    log.warning("reminders: the store did not answer the timer: %s", exc)
                delay = min(RETRY_FIRST * 2 ** (failures - 1), RETRY_MAX)
            await self._sleep(delay)

    async def _step(self) -> float | None:
        """Claim what is due; return the seconds until the next due time (None: none)."""
        stalled: int | None = None
        while True:
            due = await self.worker.call(NextDue())
            now = self.clock()
            self._until = due
            if due is None or due > now:
                return None if due is None else (due - now) / US
            if due == stalled:
                # Due, yet twice nothing to claim: the store disagrees with its own index.
                # Look again soon rather than in a busy loop (the claim logs nothing).
                log.warning("reminders: one is due at %s but cannot be claimed", format_us(due))
                return RETRY_FIRST
            if not await self.fire_due():
                stalled = due  # another daemon may have claimed it meanwhile: read again

    async def _sleep(self, delay: float | None) -> None:
        """Wait `delay` seconds (None: for ever) unless woken."""
        self._asleep = True
        try:
            with suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
        finally:
            self._asleep = False
            self._until = None


def _log_batch(batch: list[Reminder], now: int) -> None:
    if not batch:
        return
    missed = [r for r in batch if r.state == "missed"]
    late = sum(r.late for r in batch)
    log.debug(
        "reminders: claimed %d at %s: %d sent (%d late), %d missed",
        len(batch),
        format_us(now),
        len(batch) - len(missed),
        late,
        len(missed),
    )
    for reminder in missed:
        log.info(
            "reminders: missed the %s reminder of event %s, due %s (its event started, or "
            "later than reminders.late_grace)",
            format_duration(reminder.offset),
            reminder.event_id,
            format_us(reminder.due),
        )
