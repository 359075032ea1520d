"""Reminders on the redis engine: how late each reaches a WebSocket subscriber, and the
daemon's CPU while it waits for the next one.

    .venv/bin/python -m bench.reminders [--events 100000] [--reminders 1000] [--window 60]
                                        [--idle 60]

A real `eventd serve` on its own `redis-server` first stores `--events` future events spread
over 24 h (their reminders, at the default offset of 5 minutes, fall due after the run), then
`--reminders` events whose reminders fall due evenly within `--window` seconds. A subscriber
to the `reminders` channel notes when each arrives: its delay is the receipt time minus the
reminder's `due`, both read from this machine's wall clock. Then, with nothing due for
minutes, the daemon's CPU time is read from /proc over `--idle` seconds. Prints figures;
never asserts timings.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from statistics import median, quantiles
from typing import Any

import aiohttp

from bench.engines import redis_server
from bench.ingest import cpu_seconds, daemon_process, free_port
from bench.ready import wait_ready
from eventd.client import Subscriber
from eventd.times import parse_timestamp

DEFAULT_OFFSET = 300.0  # seconds: reminders.default_offsets, "5m", which the events use
LEAD = 3.0  # seconds from the POST of the due-soon events to the first due time
# Where the background events begin: their reminders fall due after the run ends.
BACKGROUND_FROM = 20 * 60.0
DAY = 86_400.0
IMPORT_CHUNK = 50_000


def background(count: int, now: float, rng: random.Random) -> list[bytes]:
    """Return NDJSON bodies of `count` events spread over the next 24 h."""
    bodies = []
    for start in range(0, count, IMPORT_CHUNK):
        lines = (
            f'{{"timestamp": {now + rng.uniform(BACKGROUND_FROM, DAY):.6f}, "type": "later", '
            f'"key": "k{i % 100}", "title": "Later {i}"}}'
            for i in range(start, min(count, start + IMPORT_CHUNK))
        )
        bodies.append(("\n".join(lines) + "\n").encode())
    return bodies


async def post(session: aiohttp.ClientSession, base: str, **kw: Any) -> None:
    async with session.post(f"{base}/events", **kw) as response:
        await response.read()
        if response.status != 201:
            raise RuntimeError(f"POST /events answered {response.status}")


class Receipts:
    """A subscriber to the `reminders` channel that notes each reminder's delay."""

    def __init__(self, session: aiohttp.ClientSession, base: str, expected: int) -> None:
        self.subscriber = Subscriber(session, base, channels=["reminders"])
        self.expected = expected
        self.delays: list[float] = []  # seconds from due time to receipt
        self.late = 0  # reminders the daemon marked `late`
        self.all = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.subscriber:
            received = time.time()
            reminder = message["reminder"]
            self.delays.append(received - parse_timestamp(reminder["due"], None) / 1e6)
            self.late += reminder["late"]
            if len(self.delays) == self.expected:
                self.all.set()

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def measure(
    base: str, pid: int, *, events: int, reminders: int, window: float, idle: float
) -> dict[str, float]:
    """Fill the store, time the due-soon reminders' arrival, then the daemon's idle CPU."""
    rng = random.Random(events)
    async with aiohttp.ClientSession() as session:
        await wait_ready(session, base)
        headers = {"Content-Type": "application/x-ndjson"}
        for body in background(events, time.time(), rng):
            await post(session, base, data=body, headers=headers)
        receipts = Receipts(session, base, reminders)
        try:
            await asyncio.wait_for(receipts.subscriber.connected.wait(), 60)
            first_due = time.time() + LEAD
            soon = [
                {
                    "title": f"Soon {i}",
                    "type": "soon",
                    "timestamp": round(first_due + i * window / reminders + DEFAULT_OFFSET, 6),
                }
                for i in range(reminders)
            ]
            await post(session, base, json=soon)
            # Bounded: a reminder that never comes ends the run rather than hangs it.
            await asyncio.wait_for(receipts.all.wait(), LEAD + window + 120)
            # Nothing falls due for minutes now: the timer sleeps, the subscriber stays.
            before, began = cpu_seconds(pid), time.monotonic()
            await asyncio.sleep(idle)
            idle_cpu = cpu_seconds(pid) - before
            idle_seconds = time.monotonic() - began
        finally:
            await receipts.stop()
    ms = sorted(delay * 1000 for delay in receipts.delays)
    return {
        "p50_ms": median(ms),
        "p99_ms": quantiles(ms, n=100, method="inclusive")[98] if len(ms) > 1 else ms[0],
        "max_ms": ms[-1],
        "early": sum(delay < 0 for delay in ms),
        "late": receipts.late,
        "idle_cpu_pct": 100 * idle_cpu / idle_seconds,
    }


def run_reminders(events: int, reminders: int, window: float, idle: float) -> dict[str, float]:
    """Run one measurement against a fresh daemon and Redis; return its figures."""
    with redis_server() as url:
        port = free_port()
        settings = {"EVENTD_ENGINE": "redis", "EVENTD_ENGINE_REDIS_URL": url}
        with daemon_process(port, **settings) as proc:
            return asyncio.run(
                measure(
                    f"http://127.0.0.1:{port}",
                    proc.pid,
                    events=events,
                    reminders=reminders,
                    window=window,
                    idle=idle,
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="over the next 24 h")
    parser.add_argument("--reminders", type=int, default=1000, help="due within the window")
    parser.add_argument("--window", type=float, default=60.0, help="seconds")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idle CPU read")
    args = parser.parse_args()
    got = run_reminders(args.events, args.reminders, args.window, args.idle)
    print(
        f"{args.reminders:,} reminders due within {args.window:g} s, {args.events:,} events "
        f"over 24 h: due-to-receipt p50 {got['p50_ms']:.1f} ms, p99 {got['p99_ms']:.1f} ms, "
        f"max {got['max_ms']:.1f} ms; {got['early']:.0f} early, {got['late']:.0f} late"
    )
    print(f"daemon CPU while idle for {args.idle:g} s: {got['idle_cpu_pct']:.2f} % of a core")


if __name__ == "__main__":
    main()
