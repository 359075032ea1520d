"""Rolling statistics as a service: rebuilt from the store, kept current from the change feed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from eventd.errors import BadParameter
from eventd.feed.hub import Hub
from eventd.feed.projection import Projection
from eventd.model import Event
from eventd.stats.ranges import RangeSummary
from eventd.stats.windows import RollingStats, history_point
from eventd.store.base import Query
from eventd.store.worker import StoreWorker
from eventd.times import US, Clock, TimeError, format_duration, format_us, parse_duration

log = logging.getLogger(__name__)
MAX_WINDOW_NAME = 32  # no window is named in more characters


def label(seconds: int) -> str:
    """Return a window's name: 300 -> '5m'."""
    return format_duration(seconds)


class StatsService(Projection):
    """The rolling windows of one daemon, fed by its hub from the store's change feed."""

    name = "stats"
    kept = "windows"

    def __init__(
        self,
        worker: StoreWorker,
        hub: Hub,
        clock: Clock,
        windows: tuple[int, ...],
        *,
        catch_up_timeout: float = 5.0,
    ):
        super().__init__(worker, hub, catch_up_timeout=catch_up_timeout)
        self.clock = clock
        self.rolling = RollingStats(windows)
        self.labels = {label(seconds): seconds for seconds in self.rolling.window_seconds}
        self.listeners: set[Callable[[StatsService], None]] = set()
        self._cache: dict[str | None, dict[str, Any]] = {}

    def window_name(self, given: str) -> str | None:
        """Return the configured window that `given` ('1h', '60m', '3600s') names, or None."""
        if len(given) > MAX_WINDOW_NAME:  # no window is named so long: refused unread
            return None
        try:
            seconds = parse_duration(given)
        except TimeError:
            return None
        return label(seconds) if seconds in self.rolling.window_seconds else None

    def resolve_window(self, given: str, field: str) -> str:
        """Return the configured window that `given` names; raise `BadParameter` at `field`
        naming the configured ones if there is none."""
        name = self.window_name(given)
        if name is None:
            shown = given if len(given) <= MAX_WINDOW_NAME else given[:MAX_WINDOW_NAME] + "…"
            raise BadParameter(f"{shown!r} is not one of {', '.join(self.labels)}", field=field)
        return name

    def reset(self) -> None:
        """Empty the windows and move them to now: the first step of a rebuild."""
        self.discard(*self.rolling.clear())
        self.rolling.advance(self.clock())

    def query(self) -> Query:
        """Return the events a rebuild reads: those the longest window can hold."""
        horizon = self.rolling.horizon()
        assert horizon is not None, "reset() moved the windows to now"
        return Query(start=horizon * US)

    def load_event(self, event: Event) -> None:
        """Put one stored event's value in its windows."""
        self.rolling.upsert(event.id, event.ts, event.value, event.type)

    def forget(self, event: Event) -> None:
        """Remove the value of a deleted event from its windows."""
        self.rolling.remove(event.id)

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
        # Taken in page by page as the scan reads them: no step grows with the range.
        gathered = RangeSummary()
        async for event in self.worker.scan(Query(start=start, end=end, type=type)):
            if event.value is not None:
                gathered.add(event.value)
        out: dict[str, Any] = {"start": format_us(start), "end": format_us(end), "type": type}
        out |= gathered.summary()
        # The runs hold every value of the range: freed a run per turn, not all at once.
        runs = gathered.values.runs
        while runs:
            runs.pop()
            await asyncio.sleep(0)
        return out

    def add_listener(self, listener: Callable[[StatsService], None]) -> None:
        """Call `listener` on every tick, after the windows moved to now."""
        self.listeners.add(listener)

    def remove_listener(self, listener: Callable[[StatsService], None]) -> None:
        """Stop calling `listener` (if it was added)."""
        self.listeners.discard(listener)
