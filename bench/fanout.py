"""WebSocket fan-out: N subscribers on one daemon (memory engine), events POSTed at a rate.

    .venv/bin/python -m bench.fanout [--subscribers 200] [--events 2000] [--rate 0]
                                     [--posters 8] [--search]

Subscribers use eventd.client.Subscriber, in a process of their own; events are POSTed from
this process, each carrying its send time, so POST-to-receipt latency is measured on one
clock. `--rate 0` posts as fast as the posters' connections allow. `--search` finds the
highest rate that every subscriber receives in full, by runs of a few seconds each (see
`highest_sustained`). Prints figures; never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import median, quantiles
from typing import Any, Literal

import aiohttp

from bench.ingest import cpu_seconds, daemon_process, free_port
from bench.ready import wait_ready
from eventd.client import Subscriber

POSTERS = 8  # connections that POST events, each waiting for its answers
PROBE_SECONDS = 4.0  # how long each rate tried by a search posts


async def subscribe_all(base: str, count: int, events: int, ready: Any, out: Any) -> None:
    latencies: list[float] = []
    last_receipt = [0.0]
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        subscribers = [Subscriber(session, base) for _ in range(count)]

        async def consume(subscriber: Subscriber) -> None:
            seen = 0
            async for change in subscriber:
                now = time.time()
                latencies.append(now - change["event"]["value"])
                last_receipt[0] = max(last_receipt[0], now)
                seen += 1
                if seen == events:
                    return

        tasks = [asyncio.create_task(consume(s)) for s in subscribers]
        await asyncio.gather(*(s.connected.wait() for s in subscribers))
        ready.set()
        await asyncio.gather(*tasks)
    out.put((latencies, last_receipt[0]))


def subscriber_process(base: str, count: int, events: int, ready: Any, out: Any) -> None:
    asyncio.run(subscribe_all(base, count, events, ready, out))


async def post_events(base: str, events: int, rate: float, posters: int) -> tuple[float, float]:
    """POST events (value = send time) at `rate` per second, over `posters` connections.

    Several connections keep the rate when answers slow down: one connection waiting for
    each answer would post less as the daemon got busier, and hide the load it could not
    take. `rate` 0 posts as fast as the connections go. Return when the first was sent, and
    the seconds from then until the last was answered.
    """
    async with aiohttp.ClientSession() as session:
        await wait_ready(session, base)
        start = time.time()
        numbers = iter(range(events))  # shared: each poster takes the next event due

        async def poster() -> None:
            for i in numbers:
                if rate:
                    await asyncio.sleep(max(0.0, start + i / rate - time.time()))
                body = {"type": "bench", "value": time.time()}
                async with session.post(f"{base}/events", json=body) as response:
                    assert response.status == 201

        await asyncio.gather(*(poster() for _ in range(posters)))
        return start, time.time() - start


def run_fanout(
    subscribers: int, events: int, rate: float, processes: int = 1, posters: int = POSTERS
) -> dict[str, float]:
    """Run one fan-out measurement against a fresh daemon; return its figures.

    The subscribers are spread over `processes` processes: one Python process receiving
    100,000 messages/s is a core at its limit, and the load generator must not be the bound.
    Besides rates and latencies, it reports the share of one core that the daemon and the
    subscribers' processes (together) used while the events flowed.
    """
    port = free_port()
    shares = [subscribers // processes + (i < subscribers % processes) for i in range(processes)]
    with daemon_process(port, EVENTD_FEED_SEND_QUEUE="10000") as daemon:
        base = f"http://127.0.0.1:{port}"
        asyncio.run(_wait(base))
        out: Any = multiprocessing.Queue()
        readies = [multiprocessing.Event() for _ in shares]
        procs = [
            multiprocessing.Process(
                target=subscriber_process, args=(base, share, events, ready, out)
            )
            for share, ready in zip(shares, readies, strict=True)
        ]
        for proc in procs:
            proc.start()
        for ready in readies:
            ready.wait(120)
        pids = [daemon.pid] + [proc.pid for proc in procs if proc.pid is not None]
        cpu_before = [cpu_seconds(pid) for pid in pids]
        start, posting = asyncio.run(post_events(base, events, rate, posters))
        results = [out.get(timeout=600) for _ in procs]
        cpu = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before, strict=True)]
        for proc in procs:
            proc.join()
    latencies = [x for got, _ in results for x in got]
    seconds = max(last for _, last in results) - start
    return delivery(latencies, seconds) | {
        "events_per_s": events / seconds,
        "posted_per_s": events / posting,
        "daemon_cpu_pct": 100 * cpu[0] / seconds,
        "subscribers_cpu_pct": 100 * sum(cpu[1:]) / seconds,
    }


def delivery(latencies: list[float], seconds: float) -> dict[str, float]:
    """Return messages/s and the p50 and p99 latency (ms) of messages received in `seconds`."""
    ms = sorted(x * 1000 for x in latencies)
    return {
        "messages_per_s": len(latencies) / seconds,
        "p50_ms": median(ms),
        "p99_ms": quantiles(ms, n=100)[98] if len(ms) > 1 else ms[0],
    }


# A rate is sustained when the events reach every subscriber at no less than this share of
# it, from the first POST to the last receipt.
KEEPS_UP = 0.95


@dataclass
class Sustained:
    """The highest posting rate found that every subscriber received in full."""

    rate: float = 0.0  # events/s; 0 if even the lowest rate tried was not sustained
    lost: float | None = None  # the lowest rate found not sustained; None if none was
    # What fell short at `lost`: "delivery" (the events were posted at the rate and reached
    # the subscribers late), "posting" (the POSTs themselves could not go at the rate, and
    # delivery kept up with them), or "" when every rate tried was sustained.
    bound: Literal["delivery", "posting", ""] = ""
    probes: list[tuple[float, str]] = field(default_factory=list)  # (rate, "kept" or bound)


def highest_sustained(
    probe: Callable[[float], dict[str, float]],
    first: float,
    known: dict[str, float] | None = None,
    *,
    cap: float = 12_800.0,
    floor: float = 1.0,
    steps: int = 2,
) -> Sustained:
    """Find the highest rate that `probe(rate)` delivers in full, up to `cap`.

    Starting at `first` (whose figures may be `known` already), the rate doubles while it is
    sustained and halves while it is not, down to `floor`; then `steps` bisections narrow
    the gap between the highest rate sustained and the lowest not.
    """
    found = Sustained()

    def sustained(rate: float) -> bool:
        got = known if (rate == first and known is not None) else probe(rate)
        delivered = got["events_per_s"]
        if delivered >= KEEPS_UP * rate:
            found.rate = max(found.rate, rate)
            found.probes.append((rate, "kept"))
            return True
        short: Literal["delivery", "posting"] = (
            "posting" if delivered >= KEEPS_UP * got["posted_per_s"] else "delivery"
        )
        if found.lost is None or rate < found.lost:
            found.lost, found.bound = rate, short
        found.probes.append((rate, short))
        return False

    rate = first
    # Bracket: double up to the first rate not sustained, or halve down to the first that is.
    while floor <= rate <= cap:
        kept = sustained(rate)
        if found.lost is not None and found.rate:
            break
        rate = rate * 2 if kept else rate / 2
    if found.lost is not None and found.rate:
        for _ in range(steps):
            sustained((found.rate + found.lost) / 2)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=0.0, help="events/s; 0 = as fast as possible")
    parser.add_argument("--processes", type=int, default=1, help="subscriber processes")
    parser.add_argument("--posters", type=int, default=POSTERS, help="connections that POST")
    parser.add_argument(
        "--search", action="store_true", help="find the highest rate delivered in full"
    )
    args = parser.parse_args()
    if args.search:
        found = highest_sustained(
            lambda rate: run_fanout(
                args.subscribers,
                max(20, round(PROBE_SECONDS * rate)),
                rate,
                args.processes,
                args.posters,
            ),
            100,
        )
        for rate, outcome in found.probes:
            print(f"{rate:,.0f} events/s: {outcome}")
        print(f"highest rate delivered in full: {found.rate:,.0f} events/s")
        return
    figures = run_fanout(args.subscribers, args.events, args.rate, args.processes, args.posters)
    print(f"{args.subscribers} subscribers, {args.events} events posted ({args.rate or 'max'} /s)")
    print(
        f"{figures['posted_per_s']:,.0f} events/s posted, {figures['events_per_s']:,.0f} events/s "
        f"to all, {figures['messages_per_s']:,.0f} messages/s delivered"
    )
    print(
        f"POST-to-receipt latency: p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms"
    )
    print(
        f"CPU while events flowed: daemon {figures['daemon_cpu_pct']:.0f} %, "
        f"subscribers' processes {figures['subscribers_cpu_pct']:.0f} % of one core"
    )


async def _wait(base: str) -> None:
    async with aiohttp.ClientSession() as session:
        await wait_ready(session, base)


if __name__ == "__main__":
    main()
