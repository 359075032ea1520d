"""The transitions index in the process: build it from many events, then time window queries.

    python -m bench.transitions_index [--events 1000000] [--keys 100000] [--queries 200]

Events are spread evenly over a day, each key moving through `start`, `wait`, `end`, ... in
turn; each query asks for the transitions of a random 10-minute window, as `GET /transitions`
does for an indexed field (without the HTTP round trip). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import time
import tracemalloc

from eventd.fields import canonical
from eventd.timelines.index import FieldIndex
from eventd.timelines.points import Point, Window, summarize

DAY_US = 86_400_000_000
WINDOW_US = 600_000_000
VALUES = [canonical(value) for value in ("start", "wait", "end", "retry")]


def build(events: int, keys: int, seed: int = 1) -> FieldIndex:
    """Return an index of `events` points over `keys` keys, posted in time order."""
    rng = random.Random(seed)
    index = FieldIndex()
    step = DAY_US // events
    for seq in range(events):
        key = f"key-{rng.randrange(keys)}"
        point = Point(seq * step, seq, rng.choice(VALUES), f"e{seq}", "event")
        index.put(point.event_id, key, point)
    return index


def percentile(sorted_values: list[float], percent: int) -> float:
    return sorted_values[max(0, (percent * len(sorted_values) + 99) // 100 - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    tracemalloc.start()
    began = time.perf_counter()
    index = build(args.events, args.keys)
    built = time.perf_counter() - began
    memory = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    print(f"built from {args.events:,} events over {args.keys:,} keys in {built:.1f} s")
    print(f"{len(index.transitions):,} transitions; {memory / 2**20:,.0f} MiB traced")
    rng = random.Random(2)
    times, counts = [], []
    for _ in range(args.queries):
        start = rng.randrange(DAY_US - WINDOW_US)
        began = time.perf_counter()
        answer = summarize(index.window(Window(start, start + WINDOW_US)))
        times.append((time.perf_counter() - began) * 1000)
        counts.append(sum(entry["count"] for entry in answer))
    times.sort()
    print(
        f"10-minute window: {sum(counts) / len(counts):,.0f} transitions on average; "
        f"p50 {percentile(times, 50):.2f} ms, p99 {percentile(times, 99):.2f} ms"
    )


if __name__ == "__main__":
    main()
