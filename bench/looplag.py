"""Scenario 12's tools: a client that polls GET /health every 10 ms while a slow step runs in
the daemon, and subscribers that replay the feed's history with `since`.

The poller runs in a process of its own, so that the work of the client that drives a case
(building an import, reading replays) never delays a poll: each latency is the daemon's.
Sequential, as a dashboard polls: one request at a time, the next due 10 ms after the
previous one was due (or at once, when that has passed).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import median, quantiles
from typing import Any, Protocol, TypeVar

import aiohttp
import msgspec

T = TypeVar("T")
INF = float("inf")
POLL = 0.01  # seconds between two polls
SETTLED_MS = 5.0  # the loop-lag maximum of the last minute under which a case may begin
SETTLE_TIMEOUT = 75.0  # seconds: past the minute that `max_1m` covers


@dataclass
class Polled:
    """What the poller saw during one case."""

    latencies: list[float] = field(default_factory=list)  # ms, of the polls answered
    refused: int = 0  # polls whose connection failed (the daemon not listening yet)
    lag_max: float = 0.0  # ms: the largest `loop_lag_ms.max_1m` any answer carried
    first_answer: float | None = None  # seconds from the poller's start to its first answer

    def summary(self) -> dict[str, float]:
        """Return p50, p99 and max of the latencies (ms), and the polls answered."""
        ms = sorted(self.latencies)
        if not ms:
            return {"p50": 0.0, "p99": 0.0, "max": 0.0, "polls": 0}
        p99 = quantiles(ms, n=100, method="inclusive")[98] if len(ms) > 1 else ms[0]
        return {"p50": median(ms), "p99": p99, "max": ms[-1], "polls": len(ms)}


async def _poll(base: str, stop: Any, ready: Any, out: Any) -> None:
    polled = Polled()
    began = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        due = time.perf_counter()
        while not stop.is_set():
            sent = time.perf_counter()
            try:
                async with session.get(f"{base}/health") as response:
                    body = await response.json()
            except aiohttp.ClientConnectionError:
                polled.refused += 1
            else:
                polled.latencies.append((time.perf_counter() - sent) * 1000)
                polled.lag_max = max(polled.lag_max, body["loop_lag_ms"]["max_1m"])
                if polled.first_answer is None:
                    polled.first_answer = time.perf_counter() - began
                    ready.set()
            due = max(due + POLL, time.perf_counter())
            await asyncio.sleep(due - time.perf_counter())
    out.put(polled)


def _poll_process(base: str, stop: Any, ready: Any, out: Any) -> None:
    asyncio.run(_poll(base, stop, ready, out))


class Poller:
    """GET /health every 10 ms from a process of its own, from `start()` to `stop()`."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._stop = multiprocessing.Event()
        self.ready = multiprocessing.Event()  # set at the first answer
        self._out: Any = multiprocessing.Queue()
        # A daemon process: a benchmark that fails does not wait for it at exit.
        self._process = multiprocessing.Process(
            target=_poll_process, args=(base, self._stop, self.ready, self._out), daemon=True
        )

    def start(self) -> None:
        self._process.start()

    def stop(self) -> Polled:
        """Stop polling; return what was seen, with the daemon's loop-lag maximum now."""
        self._stop.set()
        polled: Polled = self._out.get(timeout=600)
        self._process.join()
        polled.lag_max = max(polled.lag_max, asyncio.run(lag_max_1m(self.base)))
        return polled

    def close(self) -> None:
        """End the poller if it still runs (a case failed before `stop`)."""
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()


async def lag_max_1m(base: str) -> float:
    """Return the daemon's largest loop lag of the last minute, in ms."""
    async with aiohttp.ClientSession() as session, session.get(f"{base}/health") as response:
        body = await response.json()
    value: float = body["loop_lag_ms"]["max_1m"]
    return value


def settle(base: str, quick: bool) -> float:
    """Wait until the loop lag of the last minute is small (the set-up's blocks have aged out);
    return it (ms). A quick run does not wait."""
    deadline = time.monotonic() + (0 if quick else SETTLE_TIMEOUT)
    while True:
        lag = asyncio.run(lag_max_1m(base))
        if lag <= SETTLED_MS or time.monotonic() >= deadline:
            return lag
        time.sleep(1.0)


async def lag_histogram(base: str) -> dict[float, float]:
    """Return the daemon's loop-lag histogram: cumulative ticks by upper bound (seconds)."""
    from prometheus_client.parser import text_string_to_metric_families

    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics") as response:
        text = await response.text()
    return {
        float(sample.labels["le"]): sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "eventd_loop_lag_seconds"
        for sample in family.samples
        if sample.name.endswith("_bucket")
    }


def highest_bucket(before: dict[float, float], after: dict[float, float]) -> str:
    """Say in which bucket the longest tick between two scrapes of the histogram fell."""
    lower, below, found = 0.0, 0.0, "none"
    for bound in sorted(after):
        ticks = after[bound] - before.get(bound, 0.0)  # cumulative: ticks up to `bound`
        if ticks > below:
            found = (
                f"over {lower * 1000:g} ms"
                if bound == INF
                else f"{lower * 1000:g}-{bound * 1000:g} ms"
            )
        lower, below = bound, ticks
    return found


class Figures(Protocol):
    """bench.run's Context, as far as a case uses it."""

    quick: bool

    def figure(
        self, name: str, value: float, unit: str, target: str = "", **extra: object
    ) -> None: ...


def measure(ctx: Figures, name: str, base: str, action: Callable[[], T]) -> T:
    """Run `action` while polling /health; write the case's figures; return what it returned."""
    settled = settle(base, ctx.quick)
    before = asyncio.run(lag_histogram(base))
    poller = Poller(base)
    poller.start()
    try:
        if not poller.ready.wait(120):
            raise RuntimeError("the /health poller got no answer")
        result = action()
        polled = poller.stop()
    finally:
        poller.close()
    bucket = highest_bucket(before, asyncio.run(lag_histogram(base)))
    note = f"the loop lag of the minute before the case: {settled:.1f} ms"
    write(ctx, name, polled, bucket, note)
    return result


def load_note() -> str:
    """Say how busy the machine was over the last minute: other processes share its cores."""
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"


def write(ctx: Figures, name: str, polled: Polled, bucket: str, note: str = "") -> None:
    """Write a case's /health latencies and loop-lag maximum."""
    got = polled.summary()
    polls = f"{got['polls']:,.0f} polls answered" + (
        f", {polled.refused:,} refused" if polled.refused else ""
    )
    # Polls refused while the daemon did not listen have no latency: the answered ones alone
    # judge nothing, and the wait until the first answer is the figure.
    judged = not polled.refused
    if polled.refused and polled.first_answer is not None:
        ctx.figure(f"{name}: until /health first answered", polled.first_answer, "s")
    ctx.figure(f"{name}: /health p50", got["p50"], "ms", note=f"{polls}; {load_note()}")
    ctx.figure(f"{name}: /health p99", got["p99"], "ms", "<= 20 ms" if judged else "")
    ctx.figure(f"{name}: /health max", got["max"], "ms", "<= 100 ms" if judged else "")
    lag_note = f"the longest tick in the histogram's {bucket} bucket" + (
        f"; {note}" if note else ""
    )
    ctx.figure(f"{name}: loop lag max", polled.lag_max, "ms", "<= 100 ms", note=lag_note)


# --- subscribers that replay -------------------------------------------------------------


async def _replay_all(base: str, count: int, since: int, changes: int, go: Any, out: Any) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sockets = [await session.ws_connect(f"{base}/ws", max_msg_size=0) for _ in range(count)]
        epochs = [msgspec.json.decode((await ws.receive()).data)["epoch"] for ws in sockets]
        # A receive waits on each socket meanwhile: it answers the daemon's pings, or the
        # daemon would close the sockets that wait longer than its heartbeat.
        first = [asyncio.create_task(ws.receive()) for ws in sockets]
        out.put("connected")
        await asyncio.to_thread(go.wait)
        began = time.perf_counter()
        await asyncio.gather(
            *(
                _replay(ws, epoch, next_message, since, changes)
                for ws, epoch, next_message in zip(sockets, epochs, first, strict=True)
            )
        )
        seconds = time.perf_counter() - began
        for ws in sockets:
            await ws.close()
    out.put(seconds)


async def _replay(
    ws: aiohttp.ClientWebSocketResponse,
    epoch: str,
    first: asyncio.Task[aiohttp.WSMessage],
    since: int,
    changes: int,
) -> None:
    """Subscribe with `since`; return once `changes` changes have come."""
    await ws.send_json(
        {"type": "subscribe", "id": "r", "channels": ["events"], "since": since, "epoch": epoch}
    )
    got = 0
    message = await first
    while message.type == aiohttp.WSMsgType.TEXT:
        kind = msgspec.json.decode(message.data)["type"]
        if kind == "change":
            got += 1
            if got == changes:
                return
        elif kind != "subscribed":
            raise RuntimeError(f"a replaying subscriber got {message.data[:200]}")
        message = await ws.receive()
    raise RuntimeError(f"the daemon closed a replay after {got} changes: {ws.close_code}")


def _replay_process(base: str, count: int, since: int, changes: int, go: Any, out: Any) -> None:
    asyncio.run(_replay_all(base, count, since, changes, go, out))


class Replayers:
    """`subscribers` WebSockets over `processes` processes, each replaying `changes` changes
    after `since` once `go()` is called."""

    def __init__(
        self, base: str, subscribers: int, since: int, changes: int, processes: int = 2
    ) -> None:
        shares = [
            subscribers // processes + (i < subscribers % processes) for i in range(processes)
        ]
        self._go = multiprocessing.Event()
        self._outs: list[Any] = [multiprocessing.Queue() for _ in shares]
        self._processes = [
            multiprocessing.Process(
                target=_replay_process,
                args=(base, share, since, changes, self._go, out),
                daemon=True,
            )
            for share, out in zip(shares, self._outs, strict=True)
        ]

    def connect(self) -> None:
        """Open every socket (each has had its welcome)."""
        for process in self._processes:
            process.start()
        for out in self._outs:
            assert out.get(timeout=300) == "connected"

    def go(self) -> float:
        """Have every subscriber replay; return the seconds until the last had all its changes."""
        self._go.set()
        seconds = max(
            self._result(out, process)
            for out, process in zip(self._outs, self._processes, strict=True)
        )
        for process in self._processes:
            process.join()
        return float(seconds)

    @staticmethod
    def _result(out: Any, process: multiprocessing.Process) -> float:
        """Wait for what a process of subscribers puts in `out`; fail if it dies first."""
        while True:
            try:
                seconds: float = out.get(timeout=1.0)
            except queue.Empty:
                if process.exitcode is not None:
                    raise RuntimeError(
                        f"replaying subscribers exited with {process.exitcode}"
                    ) from None
            else:
                return seconds
