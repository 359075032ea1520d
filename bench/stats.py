"""GET /stats latency at 10,000 and 1,000,000 events in the last 24h, and the windows' memory.

    .venv/bin/python -m bench.stats [--sizes 10000,1000000] [--reads 200]

Latency: a real `eventd serve` (memory engine), filled by NDJSON imports with values spread
over the last 24 hours. Memory: the rolling windows alone, built in this process and measured
with tracemalloc. Prints figures; never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import tracemalloc

import aiohttp

from bench.engines import summary
from bench.ingest import daemon, free_port
from bench.ready import wait_ready
from eventd.stats.windows import RollingStats

DAY = 86400


def ndjson(count: int, now: float, rng: random.Random) -> bytes:
    lines = (
        f'{{"timestamp": {now - rng.uniform(0, DAY - 60):.6f}, "type": "t{i % 5}", '
        f'"value": {rng.lognormvariate(3, 1):.4f}}}'
        for i in range(count)
    )
    return ("\n".join(lines) + "\n").encode()


async def fill(session: aiohttp.ClientSession, base: str, count: int, rng: random.Random) -> None:
    for start in range(0, count, 100_000):
        body = ndjson(min(100_000, count - start), time.time(), rng)
        headers = {"Content-Type": "application/x-ndjson"}
        async with session.post(f"{base}/events", data=body, headers=headers) as response:
            assert response.status == 201, await response.text()


async def stats_latency(sizes: list[int], reads: int) -> None:
    rng = random.Random(1)
    with daemon(free_port()) as base:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, base)
            stored = 0
            for size in sizes:
                await fill(session, base, size - stored, rng)
                stored = size
                async with session.get(f"{base}/stats", params={"window": "1d"}) as response:
                    while (await response.json())["count"] < size:
                        await asyncio.sleep(0.2)  # let the feed reach the windows
                        response = await session.get(f"{base}/stats", params={"window": "1d"})
                times = await stats_reads(session, base, reads)
                print(f"GET /stats with {size:,} events in the last 24h: {summary(times)}")


async def stats_reads(session: aiohttp.ClientSession, base: str, reads: int) -> list[float]:
    times = []
    for _ in range(reads):
        start = time.perf_counter()
        async with session.get(f"{base}/stats") as response:
            await response.read()
        times.append((time.perf_counter() - start) * 1000)
    return times


def windows_memory(count: int) -> None:
    rng = random.Random(2)
    now = int(time.time()) * 1_000_000
    tracemalloc.start()
    stats = RollingStats((300, 900, 3600, 86400))
    stats.advance(now)
    for i in range(count):
        ts = now - int(rng.uniform(0, DAY - 60) * 1_000_000)
        stats.upsert(f"{i:032x}", ts, rng.lognormvariate(3, 1), f"t{i % 5}")
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"rolling windows holding {count:,} events: {current / 2**20:,.0f} MiB "
        f"({current / count:,.0f} bytes per event, ids included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--reads", type=int, default=200)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    asyncio.run(stats_latency(sizes, args.reads))
    windows_memory(sizes[-1])


if __name__ == "__main__":
    main()
