"""Ingest throughput of a real `eventd serve` process: single POSTs and one NDJSON import.

    .venv/bin/python -m bench.ingest [--singles 10000] [--bulk 100000] [--concurrency 32]

Prints figures; never asserts timings.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import aiohttp

from bench.ready import wait_ready


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def daemon(port: int, **settings: str) -> Iterator[str]:
    """Run `eventd serve` on `port` (memory engine unless `settings` say) until the block ends."""
    with daemon_process(port, **settings):
        yield f"http://127.0.0.1:{port}"


@contextmanager
def daemon_process(port: int, **settings: str) -> Iterator[subprocess.Popen[bytes]]:
    """Like `daemon`, yielding the process."""
    env = os.environ | {"EVENTD_SERVER_PORT": str(port), "EVENTD_LOG_LEVEL": "warning"} | settings
    proc = subprocess.Popen([sys.executable, "-m", "eventd", "serve"], env=env)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def singles(session: aiohttp.ClientSession, base: str, count: int, concurrency: int) -> float:
    """POST `count` single events from `concurrency` workers; return events/s."""
    remaining = iter(range(count))

    async def worker() -> None:
        for i in remaining:
            body = {"timestamp": 1_700_000_000 + i, "type": "bench", "value": i % 100}
            async with session.post(f"{base}/events", json=body) as response:
                if response.status != 201:
                    raise RuntimeError(f"POST answered {response.status}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return count / (time.perf_counter() - start)


async def bulk(session: aiohttp.ClientSession, base: str, count: int) -> float:
    """Import `count` events as one NDJSON body; return events/s."""
    lines = (
        f'{{"timestamp": {1_600_000_000 + i}, "type": "bulk", "key": "k{i % 50}", "value": {i}}}'
        for i in range(count)
    )
    body = ("\n".join(lines) + "\n").encode()
    headers = {"Content-Type": "application/x-ndjson"}
    start = time.perf_counter()
    async with session.post(f"{base}/events", data=body, headers=headers) as response:
        await response.read()
        if response.status != 201:
            raise RuntimeError(f"import answered {response.status}")
    return count / (time.perf_counter() - start)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--singles", type=int, default=10_000)
    parser.add_argument("--bulk", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    with daemon(free_port()) as base:
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_ready(session, base)
            rate = await singles(session, base, args.singles, args.concurrency)
            print(f"single POST /events: {args.singles} events, {rate:,.0f} events/s")
            rate = await bulk(session, base, args.bulk)
            print(f"NDJSON import: {args.bulk} events in one request, {rate:,.0f} events/s")


if __name__ == "__main__":
    asyncio.run(main())
