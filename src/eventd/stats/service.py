"""Rolling statistics as a service: rebuilt from the store, kept current from the change feed."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Callable
from typing import Any

from eventd.feed.hub import Hub
from eventd.stats.sketch import moments, scaled_both
from eventd.stats.windows import PERCENTILES, RollingStats, history_point, null_reasons
from eventd.store.base import Change, Query, StorageError
from eventd.store.worker import StoreWorker
from eventd.times import US, Clock, TimeError, format_duration, format_us, parse_duration

log = logging.getLogger(__name__)


def label(seconds: int) -> str:
    """Return a window's name: 300 -> '5m'."""
    return format_duration(seconds)


class StatsService:
    """The rolling windows of one daemon, fed by its hub from the store's change feed."""

    def __init__(
        self,
        worker: StoreWorker,
        hub: Hub,
        clock: Clock,
        windows: tuple[int, ...],
        *,
        catch_up_timeout: float = 5.0,
    ):
        self.worker = worker
        self.hub = hub
        self.clock = clock
        self.catch_up_timeout = catch_up_timeout
        self.rolling = RollingStats(windows)
        self.labels = {label(seconds): seconds for seconds in self.rolling.window_seconds}
        self._held: list[Change] | None = None
        self._rebuilding: asyncio.Task[None] | None = None
        self._gap_again = False  # a gap came while a rebuild ran
        self._resyncing = False  # changes were lost: the windows wait for a rebuild
        # Requests waiting for the windows to reach a feed position (see `caught_up`): a heap
        # by position, so that a change looks at the nearest one only, not at every waiter.
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._waiter_ids = itertools.count()  # ties in position never compare the futures
        self._abandoned = 0  # waiters in the heap whose requests stopped waiting
        self.listeners: set[Callable[[StatsService], None]] = set()
        self._cache: dict[str | None, dict[str, Any]] = {}

    def window_name(self, given: str) -> str | None:
        """Return the configured window that `given` ('1h', '60m', '3600s') names, or None."""
        try:
            seconds = parse_duration(given)
        except TimeError:
            return None
        return label(seconds) if seconds in self.rolling.window_seconds else None

    async def start(self) -> None:
        """Listen to the feed, then build the windows from the store."""
        self.hub.listen(self._on_change, on_gap=self._on_gap)
        try:
            await self.rebuild()
        except StorageError as exc:
            log.warning("stats: cannot read the store yet (%s); will rebuild when it answers", exc)
            self._on_gap()

    async def stop(self) -> None:
        if self._rebuilding is not None:
            self._rebuilding.cancel()
            await asyncio.gather(self._rebuilding, return_exceptions=True)

    def _on_gap(self) -> None:
        self._resyncing = True
        if self._rebuilding is None or self._rebuilding.done():
            self._rebuilding = asyncio.create_task(self._rebuild_until_done(), name="stats-rebuild")
        else:
            # Changes were lost while a rebuild ran: its scan may have missed them too.
            self._gap_again = True

    async def _rebuild_until_done(self) -> None:
        """Rebuild in the background, retrying with backoff while the store is away, and
        again if changes were lost meanwhile."""
        delay = 0.5
        while True:
            self._gap_again = False
            try:
                await self.rebuild()
                if not self._gap_again:
                    self._resyncing = False
                    self._wake()
                    return
                log.info("stats: changes were lost during the rebuild; rebuilding again")
            except StorageError as exc:
                # The store worker's log warns of the outage and says when it ends.
                level = logging.INFO if delay == 0.5 else logging.DEBUG
                log.log(level, "stats: rebuild failed (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def rebuild(self) -> None:
        """Rebuild the windows from the store; changes seen meanwhile are applied after."""
        self._held = []
        self.rolling.clear()
        now = self.clock()
        self.rolling.advance(now)
        horizon = now - self.rolling.window_seconds[-1] * US
        count = 0
        async for event in self.worker.scan(Query(start=horizon)):
            self.rolling.upsert(event.id, event.ts, event.value, event.type)
            count += 1
            if count % 100_000 == 0:
                log.info("stats: rebuilding windows, %d events read", count)
        held, self._held = self._held, None
        for change in held:
            self._apply(change)
        log.info("stats: windows rebuilt from %d events", count)
        self._wake()

    def _on_change(self, change: Change) -> None:
        if self._held is not None:
            self._held.append(change)
        else:
            self._apply(change)
            if self._waiters:
                self._wake()

    def _holds(self, position: int) -> bool:
        """Tell whether the windows hold every change up to the feed position `position`."""
        return self.hub.position >= position and self._settled

    @property
    def _settled(self) -> bool:
        """Tell whether changes reach the windows as they come (no rebuild holds them)."""
        return self._held is None and not self._resyncing

    async def caught_up(self) -> bool:
        """Wait until the windows hold every change this daemon's writes made, as far as they
        were applied when called; tell whether they did within `catch_up_timeout` seconds.

        When they already do (the usual case), this returns at once and asks the store
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
            log.info("stats: the windows did not reach feed position %d in time", target)
            return False
        finally:
            if not waiter.done():
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
        """Let the requests waiting for a position the windows have reached go on."""
        if not self._settled:
            return
        position = self.hub.position
        while self._waiters and self._waiters[0][0] <= position:
            _, _, waiter = heapq.heappop(self._waiters)
            if waiter.done():  # its request stopped waiting
                self._abandoned -= 1
            else:
                waiter.set_result(None)

    def _apply(self, change: Change) -> None:
        event = change.event
        if change.op == "cleared":
            self.rolling.clear()
            self.rolling.advance(self.clock())
        elif event is not None and change.op == "deleted":
            self.rolling.remove(event.id)
        elif event is not None:
            self.rolling.upsert(event.id, event.ts, event.value, event.type)

    def snapshot(self, labels: list[str] | None = None, type: str | None = None) -> dict[str, Any]:
        """Return the named windows (all by default) as they stand now."""
        self.rolling.advance(self.clock())
        names = labels or list(self.labels)
        return {name: self.rolling.summary(self.labels[name], type) for name in names}

    def cleanup(self) -> int:
        """Forget state that has left every window."""
        self.rolling.advance(self.clock())
        return self.rolling.cleanup()

    async def cleanup_job(self) -> None:
        """The window-cleanup job."""
        dropped = self.cleanup()
        log.debug("window-cleanup: %d buckets dropped", dropped)

    async def tick(self) -> None:
        """The stats-tick job: move the windows to now and let listeners push what changed."""
        self._cache.clear()
        for listener in list(self.listeners):
            listener(self)

    def cached(self, type: str | None) -> dict[str, Any]:
        """Return every window of `type` as of this tick, computed once for all listeners."""
        if type not in self._cache:
            self._cache[type] = self.snapshot(type=type)
        return self._cache[type]

    def history(
        self, window: str, step: int, start: int, end: int, type: str | None
    ) -> list[dict[str, Any]]:
        """Return the window's value at start, start+step, ... up to end (seconds)."""
        self.rolling.advance(self.clock())
        series = self.rolling.all if type is None else self.rolling.by_type.get(type)
        seconds = self.labels[window]
        return [
            {"time": format_us(t * US)} | history_point(series, t, seconds)
            for t in range(start, end + 1, step)
        ]

    def horizon(self) -> int:
        """Return the first second whose values the windows still hold."""
        return self.rolling.horizon_at(self.clock() // US)

    async def over_range(self, start: int, end: int, type: str | None) -> dict[str, Any]:
        """Compute exact statistics over [start, end] from the store (reads every event)."""
        values = [
            event.value
            async for event in self.worker.scan(Query(start=start, end=end, type=type))
            if event.value is not None
        ]
        out: dict[str, Any] = {"start": format_us(start), "end": format_us(end), "type": type}
        return out | exact_summary(values)

    def add_listener(self, listener: Callable[[StatsService], None]) -> None:
        """Call `listener` on every tick, after the windows moved to now."""
        self.listeners.add(listener)

    def remove_listener(self, listener: Callable[[StatsService], None]) -> None:
        """Stop calling `listener` (if it was added)."""
        self.listeners.discard(listener)


def exact_summary(values: list[float]) -> dict[str, Any]:
    """Return count, sum, min, max, mean, stddev and percentiles of `values`, all exact."""
    out: dict[str, Any] = {"count": len(values)}
    if not values:
        out |= {"sum": 0.0, "min": None, "max": None, "mean": None, "stddev": None}
        return out | {name: None for name, _ in PERCENTILES} | _exact()
    scaled = [scaled_both(v) for v in values]
    total = sum(value for value, _ in scaled)
    exact = moments(len(values), total, sum(square for _, square in scaled))
    ordered = sorted(values)
    out |= {
        "sum": exact.sum,
        "min": ordered[0],
        "max": ordered[-1],
        "mean": exact.mean,
        "stddev": exact.stddev,
    }
    out |= {name: ordered[int(q * (len(ordered) - 1))] for name, q in PERCENTILES}
    return out | _exact() | null_reasons(exact.sum)


def _exact() -> dict[str, Any]:
    return {"percentiles": {"method": "exact", "relative_error": 0.0}}
