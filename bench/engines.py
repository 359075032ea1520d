"""Per engine: a 100,000-event NDJSON import, and GET /events?limit=100 deep in the store.

    .venv/bin/python -m bench.engines [--count 100000] [--reads 200] [--engines memory,redis]

Runs a real `eventd serve` per engine; the redis engine gets its own `redis-server` (no
persistence) on a free loopback port. MongoDB is left out: no server runs on this machine,
and a mock is no performance figure. Prints figures; never asserts timings.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from statistics import median, quantiles

import aiohttp

from bench.ingest import bulk, daemon, free_port
from bench.ready import answers_ping, wait_for, wait_ready


@contextmanager
def redis_server() -> Iterator[str]:
    """Run a throwaway redis-server; yield its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is not installed (./scripts/test installs it)")
    port = free_port()
    with tempfile.TemporaryDirectory() as directory:
        proc = subprocess.Popen(
            [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", directory],
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_for(answers_ping(port), "redis-server", process=proc)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            proc.terminate()
            proc.wait(timeout=10)


async def cursor_near_end(session: aiohttp.ClientSession, base: str, count: int) -> str:
    """Walk the store in pages of 1000; return the cursor 100 events before its end."""
    params: dict[str, str | int] = {"limit": 1000}
    walked = 0
    while walked < count - 1000:
        async with session.get(f"{base}/events", params=params) as response:
            page = await response.json()
        walked += len(page["events"])
        params["cursor"] = page["next_cursor"]
    params["limit"] = 900
    async with session.get(f"{base}/events", params=params) as response:
        cursor: str = (await response.json())["next_cursor"]
    return cursor


async def page_latencies(
    session: aiohttp.ClientSession, base: str, reads: int, cursor: str | None
) -> list[float]:
    params = {"limit": "100"} | ({"cursor": cursor} if cursor else {})
    times = []
    for _ in range(reads):
        start = time.perf_counter()
        async with session.get(f"{base}/events", params=params) as response:
            await response.read()
            assert response.status == 200
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(times: list[float]) -> str:
    return f"p50 {median(times):.2f} ms, p99 {quantiles(times, n=100)[98]:.2f} ms"


async def measure(engine: str, count: int, reads: int, **settings: str) -> None:
    with daemon(free_port(), EVENTD_ENGINE=engine, **settings) as base:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, base)
            rate = await bulk(session, base, count)
            print(f"{engine}: NDJSON import of {count:,} events: {rate:,.0f} events/s")
            cursor = await cursor_near_end(session, base, count)
            first = await page_latencies(session, base, reads, None)
            end = await page_latencies(session, base, reads, cursor)
            print(f"{engine}: GET /events?limit=100, first page: {summary(first)}")
            print(f"{engine}: GET /events?limit=100, last page of {count:,}: {summary(end)}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--engines", default="memory,redis")
    args = parser.parse_args()
    for engine in args.engines.split(","):
        if engine == "redis":
            with redis_server() as url:
                await measure(engine, args.count, args.reads, EVENTD_ENGINE_REDIS_URL=url)
        else:
            await measure(engine, args.count, args.reads)


if __name__ == "__main__":
    asyncio.run(main())
