"""`GET /transitions` over a 10-minute window, by store size, on the memory and redis engines.

    .venv/bin/python -m bench.transitions [--engine memory] [--events 1000000]
                                          [--keys 100000] [--queries 200]

A real `eventd serve` (on its own `redis-server` for the redis engine) stores `--events`
events over `--keys` timeline keys, each key walking through order states (`start`, `wait`,
`run`, `end`, ...) in `data.status`, an indexed field. The events are spread evenly over
a span that grows with their number, so that every store holds the same number of events
per 10 minutes: a 10-minute window then holds as many events whatever the store's size, and
an answer's time should follow the window, not the store. Then `--queries` requests
`GET /transitions?field=status` over 10-minute windows at random places in the span, one at
a time, and their latencies are read on the client. Prints figures; never asserts timings.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from statistics import median, quantiles

import aiohttp

from bench.engines import redis_server
from bench.ingest import daemon_process, free_port
from bench.ready import wait_ready
from eventd.times import format_us

BASE = 1_700_000_000.0  # seconds: the span begins here
EVENTS_PER_10_MINUTES = 7_000  # about 1,000,000 events a day
WINDOW = 600.0
IMPORT_CHUNK = 50_000
STATES = ("start", "wait", "run", "wait", "run", "end")


def span_seconds(events: int) -> float:
    """Return the span over which `events` events are spread at the bench's density."""
    return events / EVENTS_PER_10_MINUTES * WINDOW


def bodies(events: int, keys: int, rng: random.Random) -> list[bytes]:
    """Return NDJSON bodies of `events` events over `keys` keys, in random order."""
    span = span_seconds(events)
    per_key = max(1, events // keys)
    lines = []
    for i in range(events):
        key, step = divmod(i, per_key)
        status = STATES[step % len(STATES)] if step else "start"
        lines.append(
            f'{{"timestamp": {BASE + rng.uniform(0, span):.6f}, "type": "order", '
            f'"key": "k{key % keys}", "data": {{"status": "{status}"}}, "remind": []}}'
        )
    rng.shuffle(lines)  # posted out of order: timelines must not depend on arrival
    return [
        ("\n".join(lines[at : at + IMPORT_CHUNK]) + "\n").encode()
        for at in range(0, len(lines), IMPORT_CHUNK)
    ]


async def measure(base: str, *, events: int, keys: int, queries: int) -> dict[str, float]:
    """Fill the store, then time `queries` transitions answers over random windows."""
    rng = random.Random(events)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await wait_ready(session, base)
        headers = {"Content-Type": "application/x-ndjson"}
        began = time.perf_counter()
        for body in bodies(events, keys, rng):
            async with session.post(f"{base}/events", data=body, headers=headers) as response:
                await response.read()
                if response.status != 201:
                    raise RuntimeError(f"import answered {response.status}")
        stored = time.perf_counter() - began
        # The index of each daemon follows the feed: it may hold the import only a little
        # after the import is answered (until then an answer is a 503).
        span = span_seconds(events)
        await caught_up(session, base)
        held = time.perf_counter() - began
        latencies, counted = [], []
        for _ in range(queries):
            start = BASE + rng.uniform(0, span - WINDOW)
            params = {
                "field": "status",
                "start": format_us(round(start * 1e6)),
                "end": format_us(round((start + WINDOW) * 1e6)),
            }
            sent = time.perf_counter()
            async with session.get(f"{base}/transitions", params=params) as response:
                answer = await response.json()
                if response.status != 200:
                    raise RuntimeError(f"GET /transitions answered {response.status}: {answer}")
            latencies.append((time.perf_counter() - sent) * 1000)
            counted.append(sum(t["count"] for t in answer["transitions"]))
    latencies.sort()
    return {
        "p50_ms": median(latencies),
        "p99_ms": quantiles(latencies, n=100, method="inclusive")[98]
        if len(latencies) > 1
        else latencies[0],
        "transitions_per_window": median(counted),
        "import_seconds": stored,
        "held_seconds": held,
    }


async def caught_up(session: aiohttp.ClientSession, base: str) -> None:
    """Wait until `GET /transitions` answers rather than saying it has not caught up."""
    while True:
        async with session.get(f"{base}/transitions", params={"field": "status"}) as response:
            await response.read()
            if response.status == 200:
                return
            if response.status != 503:
                raise RuntimeError(f"GET /transitions answered {response.status}")
            await asyncio.sleep(float(response.headers.get("Retry-After", "1")))


def run_transitions(engine: str, events: int, keys: int, queries: int) -> dict[str, float]:
    """Run one measurement against a fresh daemon (and Redis); return its figures."""
    port = free_port()
    kwargs = {"events": events, "keys": keys, "queries": queries}
    if engine == "memory":
        with daemon_process(port):
            return asyncio.run(measure(f"http://127.0.0.1:{port}", **kwargs))
    with redis_server() as url:
        settings = {"EVENTD_ENGINE": "redis", "EVENTD_ENGINE_REDIS_URL": url}
        with daemon_process(port, **settings):
            return asyncio.run(measure(f"http://127.0.0.1:{port}", **kwargs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="memory", choices=("memory", "redis"))
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    got = run_transitions(args.engine, args.events, args.keys, args.queries)
    print(
        f"{args.engine}: {args.events:,} events over {args.keys:,} keys stored in "
        f"{got['import_seconds']:.1f} s, held by the index after {got['held_seconds']:.1f} s; "
        f"GET /transitions over 10 minutes "
        f"(median {got['transitions_per_window']:,.0f} transitions): "
        f"p50 {got['p50_ms']:.1f} ms, p99 {got['p99_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
