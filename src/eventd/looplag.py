"""Measure how late the event loop runs a periodic timer, and name what held it.

A timer on the loop fires every `INTERVAL` seconds; how late it fires is the loop's lag, the
wait every socket had at that moment. The figures (the last lag, the largest in the last
minute, a histogram) are read by `/health` and `/metrics`.

The timer can only measure a block once it has ended, when what held the loop has gone. So a
daemon thread watches the timer's heartbeat: once a tick is overdue by more than the
threshold (`log.slow_callback`), the loop is held at that very moment, and the thread reads
which task runs (`asyncio.current_task`) and where the loop's thread is
(`sys._current_frames`); it looks again every half threshold until the tick runs, since a
long block is often spent elsewhere than where it was first seen. The late tick then logs one
WARNING with the first look and the place seen most often. Lines are rate limited: one per
block, then, within `REPORT_INTERVAL`, a count and the longest block.

When the loop is healthy, this costs one timer callback per `INTERVAL` and one wake-up of the
thread per `INTERVAL` plus threshold; asyncio's own slow-callback report needs debug mode,
whose checks slow every callback.
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import logging
import os
import sys
import threading
import time
import types
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

INTERVAL = 0.1  # seconds between two ticks of the timer
WINDOW = 60  # seconds that `max_1m` covers
MIN_LOOK = 0.01  # seconds: the watcher looks at a held loop at most this often
REPORT_INTERVAL = 10.0  # seconds after a WARNING during which more blocks are only counted
# Upper bounds of the lag histogram, in seconds.
BOUNDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_EVENTD = os.path.dirname(os.path.abspath(__file__))
_ASYNCIO = os.path.dirname(asyncio.__file__)


@dataclass(frozen=True, slots=True)
class Blocker:
    """What held the loop, as the watcher thread saw it."""

    task: str | None  # the running task's name; None when a plain callback ran
    callback: str  # the outermost function the loop called: the task's coroutine, or the callback
    where: str  # file:line in function, of the innermost frame
    via: str  # the innermost frame of eventd's own code, when `where` is outside it

    def describe(self) -> str:
        """Say what held the loop and where, in a few words."""
        who = f"task {self.task!r} ({self.callback})" if self.task else f"callback {self.callback}"
        return f"{who} at {self.place()}"

    def place(self) -> str:
        """Say where the loop's thread was."""
        return self.where + (f", called from {self.via}" if self.via else "")


@dataclass(slots=True)
class Sighting:
    """What the watcher saw of the loop while one tick was overdue: the first look, and how
    often each place was seen (a block is often spent elsewhere than where it was first
    seen)."""

    tick: int
    first: Blocker
    places: dict[str, int] = field(default_factory=dict)  # place -> looks

    def describe(self) -> str:
        """Say what held the loop, and where it was most often when that is elsewhere."""
        places = self.places.copy()  # the thread may still be adding a look
        looks = sum(places.values())
        place, most = max(places.items(), key=lambda item: item[1], default=("", 0))
        text = self.first.describe()
        if place and place != self.first.place():
            text += f"; most often at {place} ({most} of {looks} looks)"
        return text


@dataclass(slots=True)
class Figures:
    """Lag figures kept from every tick."""

    last: float = 0.0  # seconds: the lag of the latest tick
    ticks: int = 0
    blocks: int = 0  # ticks later than the threshold
    total: float = 0.0  # seconds: the sum of every tick's lag
    # Ticks per histogram bucket: one per bound of BOUNDS, then +Inf.
    counts: list[int] = field(default_factory=lambda: [0] * (len(BOUNDS) + 1))


class LoopLag:
    """The timer, its figures, and the watcher thread that names what blocks the loop."""

    def __init__(self, threshold: float, *, interval: float = INTERVAL) -> None:
        self.threshold = threshold
        self.interval = interval
        self.figures = Figures()
        # (second, largest lag in it), oldest first, for `max_1m`.
        self._seconds: collections.deque[list[float]] = collections.deque(maxlen=WINDOW + 1)
        self._beat = (0, 0.0)  # (tick number, when it is due): one tuple, swapped atomically
        self._seen: Sighting | None = None  # written by the thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._handle: asyncio.TimerHandle | None = None
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None
        self._quiet_until = 0.0
        self._suppressed = 0
        self._worst: tuple[float, Blocker | Sighting | None] = (0.0, None)

    def start(self) -> None:
        """Start the timer on the running loop, and the watcher thread."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._schedule(time.monotonic())
        self._watcher = threading.Thread(target=self._watch, name="eventd-looplag", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """Stop the timer and the thread; report the blocks counted since the last line."""
        if self._handle is not None:
            self._handle.cancel()
        if self._suppressed:
            self._summarize()
        self._stopping.set()
        if self._watcher is not None:
            self._watcher.join()

    def configure(self, threshold: float) -> None:
        """Take a new threshold (on reload)."""
        self.threshold = threshold

    def max_1m(self) -> float:
        """Return the largest lag of the last minute, in seconds."""
        oldest = time.monotonic() - WINDOW
        return max((lag for second, lag in self._seconds if second >= oldest), default=0.0)

    # On the loop.

    def _schedule(self, now: float) -> None:
        assert self._loop is not None
        self._beat = (self._beat[0] + 1, now + self.interval)
        self._handle = self._loop.call_later(self.interval, self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        number, due = self._beat
        lag = max(0.0, now - due)
        self._record(lag, now)
        if lag > self.threshold:
            seen = self._seen
            self._report(lag, now, seen if seen is not None and seen.tick == number else None)
        elif self._suppressed and now >= self._quiet_until:
            self._summarize()
        self._schedule(now)

    def _record(self, lag: float, now: float) -> None:
        figures = self.figures
        figures.last = lag
        figures.ticks += 1
        figures.total += lag
        figures.counts[bisect.bisect_left(BOUNDS, lag)] += 1
        second = float(int(now))
        if self._seconds and self._seconds[-1][0] == second:
            self._seconds[-1][1] = max(self._seconds[-1][1], lag)
        else:
            self._seconds.append([second, lag])

    def _report(self, lag: float, now: float, blocker: Blocker | Sighting | None) -> None:
        """Log a block, or count it when one was logged within `REPORT_INTERVAL`."""
        self.figures.blocks += 1
        if now < self._quiet_until:
            self._suppressed += 1
            if lag > self._worst[0]:
                self._worst = (lag, blocker)
            return
        if self._suppressed:
            self._summarize()
        log.warning(
            "event loop blocked for %.0f ms (log.slow_callback is %.0f ms) by %s",
            lag * 1000,
            self.threshold * 1000,
            _describe(blocker),
        )
        self._quiet_until = now + REPORT_INTERVAL

    def _summarize(self) -> None:
        lag, blocker = self._worst
        log.warning(
            "event loop blocks not reported within %.0f s of the previous report: %d; the "
            "longest, %.0f ms, by %s",
            REPORT_INTERVAL,
            self._suppressed,
            lag * 1000,
            _describe(blocker),
        )
        self._suppressed, self._worst = 0, (0.0, None)

    # On the watcher thread.

    def _watch(self) -> None:
        """Wait until a tick is overdue by more than the threshold; then look at what holds
        the loop, again and again until the tick runs."""
        while not self._stopping.is_set() and not self._closed():
            number, due = self._beat
            wait = due + self.threshold - time.monotonic()
            if wait > 0:
                self._stopping.wait(wait)
                continue
            look = self._snapshot()
            seen = self._seen
            if seen is None or seen.tick != number:
                self._seen = seen = Sighting(number, look)
            place = look.place()
            seen.places[place] = seen.places.get(place, 0) + 1
            self._stopping.wait(max(self.threshold / 2, MIN_LOOK))

    def _closed(self) -> bool:
        return self._loop is None or self._loop.is_closed()

    def _snapshot(self) -> Blocker:
        assert self._loop is not None
        task = asyncio.current_task(self._loop)  # a read of asyncio's table: safe here
        frame = sys._current_frames().get(self._loop_thread)
        return blocker(task.get_name() if task is not None else None, frame)


def blocker(task: str | None, frame: types.FrameType | None) -> Blocker:
    """Describe the stack of the loop's thread from its innermost `frame`."""
    stack = []
    while frame is not None:
        stack.append(frame)
        frame = frame.f_back
    # The loop calls each callback from asyncio's Handle._run; what runs inside it (a task's
    # coroutine, or a plain callback) is the outermost frame of the step.
    outer = len(stack)
    for index, one in enumerate(stack):
        if one.f_code.co_filename.startswith(_ASYNCIO) and one.f_code.co_name == "_run":
            outer = index
            break
    step = stack[:outer] or stack
    if not step:
        return Blocker(task, "?", "an unknown place", "")
    where = _place(step[0])
    ours = next((f for f in step if f.f_code.co_filename.startswith(_EVENTD + os.sep)), None)
    via = _place(ours) if ours is not None and ours is not step[0] else ""
    return Blocker(task, step[-1].f_code.co_qualname, where, via)


def _place(frame: types.FrameType) -> str:
    return f"{_short(frame.f_code.co_filename)}:{frame.f_lineno} in {frame.f_code.co_qualname}"


def _short(path: str) -> str:
    """Return `path` from the package or import root that holds it."""
    roots = [os.path.dirname(_EVENTD), *(p for p in sys.path if p)]
    root = max((r for r in roots if path.startswith(r.rstrip("/") + "/")), key=len, default="")
    return path[len(root.rstrip("/")) + 1 :] if root else path


def _describe(blocker: Blocker | Sighting | None) -> str:
    if blocker is None:
        return "a step that ended before the watcher could see it"
    return blocker.describe()
