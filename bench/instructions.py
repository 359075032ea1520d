"""Instructions that eventd's own import path executes per event, counted by valgrind.

    .venv/bin/python -m bench.instructions [--small 5000] [--large 25000]

Wall-clock figures on a shared machine drift by tens of percent within minutes; a count of
executed instructions does not, so it is how two versions of eventd's own code can be
compared (docs/benchmarks.md cites it). The path runs in one process, without HTTP: an
NDJSON body is parsed, validated and stored through the store worker into the memory
engine, the answer is encoded, and every stored change is fed to the statistics windows.
It runs under callgrind once with a small and once with a large body, both made beforehand
in another process; their difference per event leaves out start-up and imports. Needs
valgrind (Debian's `valgrind` package).
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
from eventd.http.bodies import parse_events
from eventd.http.responses import json_response
from eventd.model import Validator, to_out
from eventd.service import EventService
from eventd.store.memory import MemoryEngine
from eventd.store.worker import StoreWorker
from eventd.times import resolve_timezone, wall_clock_us
from eventd.windows import RollingStats


async def import_path(body: bytes) -> tuple[int, int]:
    """Import an NDJSON body as the daemon does; return (events stored, in the 24h window)."""
    config = load(None, env={}, overrides={})
    count = body.count(b"\n")
    worker = StoreWorker(MemoryEngine(history=count))
    await worker.start()
    try:
        validator = Validator(config.limits, resolve_timezone(config.time.naive_timezone))
        service = EventService(worker, validator, wall_clock_us)
        windows = RollingStats((300, 900, 3600, 86400))
        windows.advance(wall_clock_us())
        items, batch = parse_events(body, ndjson=True, max_batch=count)
        results = await service.create(items, batch=batch)
        json_response({"events": [to_out(result.event) for result in results]}, status=201)
        for change in (await worker.engine.read_changes(0, count)).changes:
            event = change.event
            assert event is not None
            windows.upsert(event.id, event.ts, event.value, event.type)
        return len(results), windows.summary(86400)["count"]
    finally:
        await worker.stop(drain_timeout=1.0)


def instructions(count: int) -> int:
    """Return the instructions a whole process importing `count` events executes."""
    with tempfile.TemporaryDirectory() as tmp:
        body = Path(tmp) / "events.ndjson"
        body.write_bytes(ndjson(count, random.Random(count)))
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={Path(tmp) / 'callgrind.out'}",
                sys.executable,
                "-m",
                "bench.instructions",
                "--path-only",
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
    parser.add_argument("--path-only", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.path_only is not None:
        asyncio.run(import_path(args.path_only.read_bytes()))
        return
    small, large = instructions(args.small), instructions(args.large)
    per_event = (large - small) / (args.large - args.small)
    print(f"import path: {per_event:,.0f} instructions per event")


if __name__ == "__main__":
    main()
