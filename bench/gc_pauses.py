"""The garbage collector's pauses (issue 20): the longest collection of each generation, in
CPU time, and the longest gap of a 1 ms ticker, while a 100,000-event NDJSON import runs
into a memory store of BASE events (statistics and the `status` timeline on), then while the
statistics rebuild. In one process, against whichever eventd is first on the path:

    BASE=500000 [FREEZE=start|fill] [THRESHOLD=700,10,10] python -m bench.gc_pauses

FREEZE=start freezes the objects made before the fill (as `eventd serve` does once started),
FREEZE=fill those made by the fill too (as a daemon restarted on a full store). Compare two
trees by running this alternately with PYTHONPATH set to each one's src. Prints figures,
asserts none.
"""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import os
import random
import time
from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from eventd.app import create_app
from eventd.config import load
from eventd.stats.keys import STATS
from eventd.timelines.keys import TRANSITIONS

BASE = int(os.environ.get("BASE", "500000"))
IMPORT = 100_000
HEADERS = {"Content-Type": "application/x-ndjson"}


class Probe:
    """The longest collection by generation (CPU), and the longest ticker gap (wall)."""

    def __init__(self) -> None:
        self.started = 0.0
        self.reset()

    def reset(self) -> None:
        self.longest = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self.gap = 0.0

    def callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self.started = time.thread_time()
            return
        took, generation = time.thread_time() - self.started, info["generation"]
        self.count[generation] += 1
        self.longest[generation] = max(self.longest[generation], took)

    async def tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            self.gap, last = max(self.gap, now - last), now

    def line(self, what: str) -> str:
        longest = "/".join(f"{1000 * s:.0f}" for s in self.longest)
        count = "/".join(map(str, self.count))
        gap = f"ticker gap {1000 * self.gap:.0f} ms"
        return f"{what}: longest gen0/1/2 {longest} ms CPU (n {count}); {gap}"


def body(count: int, rng: random.Random) -> bytes:
    now = time.time()
    lines = (
        json.dumps(
            {
                "timestamp": now - rng.random() * 1800,
                "type": f"t{i % 5}",
                "key": f"k{i % 10000}",
                "value": rng.random(),
                "data": {"status": rng.choice("abcd")},
            }
        )
        for i in range(count)
    )
    return ("\n".join(lines) + "\n").encode()


async def main() -> None:
    if "THRESHOLD" in os.environ:
        gc.set_threshold(*map(int, os.environ["THRESHOLD"].split(",")))
    rng = random.Random(1)
    overrides = {"limits.max_batch": IMPORT, "limits.max_body_bytes": 1 << 30, "log.level": "error"}
    app = create_app(load(overrides=overrides))
    server = TestServer(app)
    await server.start_server()
    if os.environ.get("FREEZE") == "start":
        gc.collect()
        gc.freeze()
    url = str(server.make_url("/events"))
    timeout = aiohttp.ClientTimeout(total=3600)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def imported() -> float:
            data, started = body(IMPORT, rng), time.perf_counter()
            async with session.post(url, data=data, headers=HEADERS) as response:
                await response.read()
                assert response.status == 201, response.status
            while not (await app[STATS].caught_up() and await app[TRANSITIONS].caught_up()):
                pass
            return IMPORT / (time.perf_counter() - started)

        for _ in range(0, BASE, IMPORT):
            await imported()
        gc.collect()
        if os.environ.get("FREEZE") == "fill":
            gc.freeze()
        print(f"tracked {len(gc.get_objects())}, frozen {gc.get_freeze_count()}", flush=True)
        probe = Probe()
        gc.callbacks.append(probe.callback)
        ticker = asyncio.create_task(probe.tick())
        rate = await imported()
        print(probe.line(f"import into {BASE} ({rate:.0f} events/s, projections included)"))
        probe.reset()
        started = time.perf_counter()
        await app[STATS].rebuild()
        print(probe.line(f"statistics rebuild ({time.perf_counter() - started:.1f} s)"))
        ticker.cancel()
        gc.callbacks.remove(probe.callback)
    kinds = collections.Counter(type(found).__name__ for found in gc.get_objects())
    print("most tracked:", kinds.most_common(6))
    await server.close()


if __name__ == "__main__":
    asyncio.run(main())
