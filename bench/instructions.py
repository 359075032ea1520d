"""Instructions that eventd's own code executes per event, counted by valgrind.

    .venv/bin/python -m bench.instructions [--small 5000] [--large 25000]

Wall-clock figures on a shared machine drift by tens of percent within minutes; a count of
executed instructions does not, so it is how two versions of eventd's own code can be
compared (docs/benchmarks.md cites it). Two paths run in one process, without HTTP or
aiohttp: events are parsed, validated and stored through the store worker into the memory
engine, the answer is encoded, and every stored change is fed to the statistics windows.
`import` does it for one NDJSON body of scenario 2's events, as a bulk import; `single` for
one event at a time, with scenario 1's bodies (no timestamp: the time of arrival), as
single POSTs do (mirroring the handler of `POST /events`). Each path runs under callgrind
once with a small and once with a large body, both made beforehand in another process;
their difference per event leaves out start-up and imports. Needs valgrind (Debian's
`valgrind` package).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.run import ndjson
from eventd.config import load
from eventd.events.service import EventService
from eventd.http.bodies import parse_events
from eventd.http.responses import json_response
from eventd.model import Validator, to_out
from eventd.stats.windows import RollingStats
from eventd.store.memory import MemoryEngine
from eventd.store.worker import StoreWorker
from eventd.times import resolve_timezone, wall_clock_us

PATHS = ("import", "single")


async def run_path(path: str, body: bytes) -> tuple[int, int]:
    """Store an NDJSON body as `path` does; return (events stored, in the 24h window)."""
    config = load(None, env={}, overrides={})
    count = body.count(b"\n")
    worker = StoreWorker(MemoryEngine(history=count))
    await worker.start()
    try:
        validator = Validator(config.limits, resolve_timezone(config.time.naive_timezone))
        service = EventService(worker, validator, wall_clock_us)
        windows = RollingStats((300, 900, 3600, 86400))
        windows.advance(wall_clock_us())
        stored = 0
        if path == "import":
            depth = config.limits.max_data_depth
            items, batch = await parse_events(body, ndjson=True, max_batch=count, max_depth=depth)
            results = await service.create(items, batch=batch)
            json_response({"events": [to_out(result.event) for result in results]}, status=201)
            stored = len(results)
        else:
            for line in body.splitlines():
                depth = config.limits.max_data_depth
                items, batch = await parse_events(line, ndjson=False, max_batch=1, max_depth=depth)
                results = await service.create(items, batch=batch)
                json_response(to_out(results[0].event), status=201)
                stored += len(results)
        for change in (await worker.engine.read_changes(0, count)).changes:
            event = change.event
            assert event is not None
            windows.upsert(event.id, event.ts, event.value, event.type)
        windows.advance(wall_clock_us())
        return stored, windows.summary(86400)["count"]
    finally:
        await worker.stop(drain_timeout=1.0)


def events(path: str, count: int) -> bytes:
    """Return `count` events for `path`, one JSON object per line."""
    if path == "import":
        return ndjson(count, random.Random(count))
    lines = (f'{{"type":"bench","value":{n % 100},"data":{{"n":{n}}}}}\n' for n in range(count))
    return "".join(lines).encode()


def instructions(path: str, count: int) -> int:
    """Return the instructions a whole process storing `count` events by `path` executes."""
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "events.ndjson"
        body.write_bytes(events(path, count))
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={Path(tmp) / 'callgrind.out'}",
                sys.executable,
                "-m",
                "bench.instructions",
                "--run",
                path,
                str(body),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    return int(re.search(r"Collected : (\d+)", done.stderr)[1])  # type: ignore[index]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=5_000, help="events of the small run")
    parser.add_argument("--large", type=int, default=25_000, help="events of the large run")
    parser.add_argument("--run", nargs=2, help=argparse.SUPPRESS)  # path, body file
    args = parser.parse_args()
    if args.run is not None:
        asyncio.run(run_path(args.run[0], Path(args.run[1]).read_bytes()))
        return
    for path in PATHS:
        small, large = instructions(path, args.small), instructions(path, args.large)
        per_event = (large - small) / (args.large - args.small)
        print(f"{path} path: {per_event:,.0f} instructions per event", flush=True)


if __name__ == "__main__":
    main()
