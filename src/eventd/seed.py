"""`eventd seed`: fill the configured store with realistic events, showing progress."""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Iterator
from typing import TextIO

import msgspec

from eventd.config import Config
from eventd.model import Event, new_id
from eventd.store import make_engine
from eventd.store.commands import PutMany
from eventd.store.worker import StoreWorker
from eventd.times import US, wall_clock_us

BATCH = 2000
_KINDS = {
    "deploy": ["web", "api", "worker"],
    "alert": ["db-1", "db-2", "cache"],
    "order": ["shop-eu", "shop-us"],
    "job": [f"job-{n}" for n in range(20)],
    "metric": ["cpu", "latency", "queue"],
}
_STATES = ["start", "wait", "run", "done", "fail"]


def generate(count: int, spread_s: int, now: int, rng: random.Random) -> Iterator[Event]:
    """Yield `count` events spread uniformly over the `spread_s` seconds before `now`."""
    kinds = list(_KINDS)
    for _ in range(count):
        kind = rng.choice(kinds)
        key = rng.choice(_KINDS[kind])
        state = rng.choice(_STATES)
        data = {"status": state, "host": f"h{rng.randrange(1, 9)}"}
        yield Event(
            id=new_id(),
            ts=now - rng.randrange(spread_s * US),
            seq=-1,
            type=kind,
            key=key,
            title=f"{kind} {key} {state}",
            description=None,
            value=round(rng.lognormvariate(3, 1), 3),
            data=msgspec.Raw(msgspec.json.encode(data)),
            remind=None,
            created=now,
            updated=now,
        )


async def seed(
    config: Config, count: int, spread_s: int, *, out: TextIO = sys.stderr, seed: int | None = None
) -> int:
    """Store `count` generated events through the store worker; return how many."""
    if config.engine.name == "memory":
        out.write("note: the memory engine keeps nothing once this command ends\n")
    worker = StoreWorker(make_engine(config), batch_limit=config.store.batch_limit)
    await worker.start()
    progress = Progress(count, out)
    try:
        events = generate(count, spread_s, wall_clock_us(), random.Random(seed))  # noqa: S311 - sample data
        done = 0
        while done < count:
            batch = [next(events) for _ in range(min(BATCH, count - done))]
            await worker.call(PutMany(batch))
            done += len(batch)
            progress.show(done)
    finally:
        await worker.stop(drain_timeout=config.server.shutdown_timeout)
    progress.finish()
    return count


class Progress:
    """A one-line progress bar on a terminal; a line per tenth elsewhere (logs, CI)."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total = total
        self.out = out
        self.started = time.monotonic()
        self.tty = out.isatty()
        self.shown_tenth = -1

    def show(self, done: int) -> None:
        rate = done / max(time.monotonic() - self.started, 1e-9)
        fraction = done / self.total if self.total else 1.0
        bar = "#" * int(fraction * 30)
        line = f"seeding [{bar:<30}] {done:,}/{self.total:,} ({fraction:.0%}) {rate:,.0f} events/s"
        if self.tty:
            self.out.write("\r" + line)
        elif int(fraction * 10) > self.shown_tenth:
            self.shown_tenth = int(fraction * 10)
            self.out.write(line + "\n")
        self.out.flush()

    def finish(self) -> None:
        elapsed = time.monotonic() - self.started
        if self.tty:
            self.out.write("\n")
        self.out.write(f"seeded {self.total:,} events in {elapsed:.1f} s\n")
