"""eventd's benchmark suite: every scenario against real processes, next to its ceiling.

    .venv/bin/python -m bench.run [--quick] [--engines memory,redis] [--only 1,3]

Each scenario starts a real `eventd serve` (and a real `redis-server` for the redis engine)
and drives it from separate processes: `wrk` with a Lua script for HTTP, the package's own
client for WebSockets. Results go to docs/benchmarks.md (with a description of the machine)
and docs/benchmarks.json. `--quick` runs every scenario at tiny sizes (the test suite runs it
so the code cannot rot); figures from it mean nothing. Nothing here fails on a timing.

Adding a scenario: write a function `(ctx) -> None` that calls `ctx.figure(...)`, and
decorate it with `@scenario("N. title")`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from statistics import median
from typing import TYPE_CHECKING

import aiohttp

from bench.engines import redis_server
from bench.ingest import daemon_process, free_port
from bench.ready import answers_http, wait_for, wait_ready

if TYPE_CHECKING:
    from bench.fanout import Sustained

ROOT = Path(__file__).parents[1]
LUA = Path(__file__).parent / "lua"
# What was changed for the targets and what bounds the rest: appended to the full report.
ANALYSIS = Path(__file__).parent / "analysis.md"
SCENARIOS: list[tuple[str, Callable[[Context], None]]] = []


def scenario(title: str) -> Callable[[Callable[[Context], None]], Callable[[Context], None]]:
    def register(fn: Callable[[Context], None]) -> Callable[[Context], None]:
        SCENARIOS.append((title, fn))
        return fn

    return register


@dataclass
class Figure:
    scenario: str
    name: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""


@dataclass
class Context:
    quick: bool
    engines: list[str]
    figures: list[Figure] = field(default_factory=list)
    current: str = ""

    def size(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def figure(self, name: str, value: float, unit: str, target: str = "", **extra: object) -> None:
        met = _meets(value, target) if target and not self.quick else None
        self.figures.append(
            Figure(self.current, name, value, unit, target, met, str(extra.get("note", "")))
        )
        print(
            f"  {name}: {value:,.3f} {unit}"
            + (f"  (target {target}: {'met' if met else 'missed'})" if met is not None else "")
        )


def rounds_note(values: list[float], form: str) -> str:
    """Return the note that lists a figure's rounds, each written with `form`."""
    return "rounds: " + ", ".join(form.format(value) for value in values)


def _meets(value: float, target: str) -> bool:
    """Check `value` against a target such as '>= 60 %' or '<= 2 ms'."""
    op, bound = target.split()[:2]
    limit = float(bound.replace(",", ""))
    return value >= limit if op == ">=" else value <= limit


# --- processes ----------------------------------------------------------------------------


@contextmanager
def serve(engine: str, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run `eventd serve` on `engine`; yield its base URL and process."""
    with contextmanager_redis(engine) as redis_env:
        port = free_port()
        settings = {"EVENTD_SERVER_PORT": str(port), "EVENTD_LOG_LEVEL": "warning"}
        settings |= {"EVENTD_ENGINE": engine} | redis_env | env
        proc = subprocess.Popen(
            [sys.executable, "-m", "eventd", "serve"], env=os.environ | settings
        )
        base = f"http://127.0.0.1:{port}"
        try:
            asyncio.run(_wait_ready(base, proc))
            yield base, proc
        finally:
            proc.terminate()
            proc.wait(timeout=60)


@contextmanager
def contextmanager_redis(engine: str) -> Iterator[dict[str, str]]:
    if engine != "redis":
        yield {}
        return
    with redis_server() as url:
        yield {"EVENTD_ENGINE_REDIS_URL": url}


async def _wait_ready(base: str, proc: subprocess.Popen[bytes]) -> None:
    async with aiohttp.ClientSession() as session:
        await wait_ready(session, base, process=proc)


def wrk(
    url: str, script: str, *, connections: int, seconds: float, token: str = ""
) -> dict[str, float]:
    """Run wrk with one of bench/lua's scripts (sending `token` if given); return its JSON
    summary."""
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, int(seconds))}s",
        "-s",
        str(LUA / script),
        url,
    ]
    env = os.environ | {"EVENTD_BENCH_TOKEN": token}
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    line = next(line for line in out.splitlines() if line.startswith("JSON "))
    result: dict[str, float] = json.loads(line[5:])
    result["rps"] = result["requests"] / result["seconds"]
    return result


def rss_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status)[1]) * 1024  # type: ignore[index]


# --- loading data -------------------------------------------------------------------------


def ndjson(count: int, rng: random.Random, *, spread: float = 86_000) -> bytes:
    now = time.time()
    lines = (
        f'{{"timestamp": {now - rng.uniform(60, spread):.6f}, "type": "t{i % 5}", '
        f'"key": "k{i % 100}", "value": {rng.lognormvariate(3, 1):.4f}}}'
        for i in range(count)
    )
    return ("\n".join(lines) + "\n").encode()


async def fill(base: str, count: int, *, chunk: int = 100_000) -> float:
    """Import `count` events in NDJSON chunks; return events/s."""
    rng = random.Random(count)
    headers = {"Content-Type": "application/x-ndjson"}
    async with aiohttp.ClientSession() as session:
        elapsed = 0.0
        for start in range(0, count, chunk):
            body = ndjson(min(chunk, count - start), rng)
            began = time.perf_counter()
            async with session.post(f"{base}/events", data=body, headers=headers) as response:
                await response.read()
                if response.status != 201:
                    raise RuntimeError(f"import answered {response.status}")
            elapsed += time.perf_counter() - began
    return count / elapsed


async def cursors(base: str, count: int) -> dict[str, str]:
    """Return the listing URLs of a page of 100 at the start, middle and end of the store."""
    step = max(1, min(1000, count // 20))
    marks: list[tuple[int, str]] = []  # (events before the cursor, cursor)
    params: dict[str, str | int] = {"limit": step}
    walked = 0
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{base}/events", params=params) as response:
                page = await response.json()
            walked += len(page["events"])
            if page["next_cursor"] is None:
                break
            marks.append((walked, page["next_cursor"]))
            params["cursor"] = page["next_cursor"]
    middle = next(cursor for seen, cursor in marks if seen >= count // 2)
    end = [cursor for seen, cursor in marks if seen <= count - 100][-1]
    listing = f"{base}/events?limit=100"
    return {
        "start": listing,
        "middle": f"{listing}&cursor={middle}",
        "end": f"{listing}&cursor={end}",
    }


# --- scenarios ----------------------------------------------------------------------------


@scenario("1. single-event POST /events, 32 connections, next to a minimal aiohttp handler")
def single_posts(ctx: Context) -> None:
    # This machine's speed drifts by tens of percent within minutes, so the ceiling and each
    # engine take turns, round after round; a share is the median of the rounds' shares.
    seconds, rounds = ctx.size(5, 1), ctx.size(3, 1)
    runs: dict[str, list[dict[str, float]]] = {"ceiling": []} | {e: [] for e in ctx.engines}
    for _ in range(rounds):
        port = free_port()
        ceiling = subprocess.Popen([sys.executable, "-m", "bench.ceiling", str(port)])
        try:
            url = f"http://127.0.0.1:{port}/events"
            wait_for(answers_http(url), "the ceiling server", process=ceiling)
            runs["ceiling"].append(wrk(url, "post_event.lua", connections=32, seconds=seconds))
        finally:
            ceiling.terminate()
            ceiling.wait()
        for engine in ctx.engines:
            with serve(engine) as (base, _):
                got = wrk(f"{base}/events", "post_event.lua", connections=32, seconds=seconds)
            runs[engine].append(got)
    note = f"median of {rounds} rounds of {seconds} s"
    ceiling_rps = [run["rps"] for run in runs["ceiling"]]
    ctx.figure("ceiling: minimal aiohttp handler", median(ceiling_rps), "requests/s", note=note)
    for engine in ctx.engines:
        got = runs[engine]
        ctx.figure(f"{engine}: requests/s", median(run["rps"] for run in got), "requests/s")
        ctx.figure(f"{engine}: p50", median(run["p50_ms"] for run in got), "ms")
        ctx.figure(f"{engine}: p99", median(run["p99_ms"] for run in got), "ms")
        shares = [100 * run["rps"] / top for run, top in zip(got, ceiling_rps, strict=True)]
        ctx.figure(
            f"{engine}: share of the ceiling",
            median(shares),
            "%",
            ">= 60 %",
            note=rounds_note(shares, "{:.1f} %"),
        )


@scenario("2. bulk import: NDJSON and JSON arrays of 1,000")
def bulk_import(ctx: Context) -> None:
    count = ctx.size(100_000, 2_000)
    targets = {"memory": ">= 100,000 events/s", "redis": ">= 50,000 events/s"}
    for engine in ctx.engines:
        # Each round imports into a fresh daemon (and Redis); the median evens out the
        # machine's drift.
        rates, held = [], []
        for _ in range(ctx.size(3, 1)):
            with serve(engine) as (base, _):
                rate = asyncio.run(fill(base, count))
                # The answer comes once the events are stored; the statistics windows take
                # them from the change feed, partly after it.
                waited = asyncio.run(_windows_hold(base, count, poll=0.01))
            rates.append(rate)
            held.append(count / (count / rate + waited))
        ctx.figure(
            f"{engine}: NDJSON, {count:,} events",
            median(rates),
            "events/s",
            targets.get(engine, ""),
            note=rounds_note(rates, "{:,.0f}"),
        )
        ctx.figure(
            f"{engine}: NDJSON, {count:,} events, until the statistics hold them all",
            median(held),
            "events/s",
            note=rounds_note(held, "{:,.0f}"),
        )
        with serve(engine) as (base, _):
            rate = asyncio.run(_arrays(base, count // 1000 or 1))
        ctx.figure(f"{engine}: JSON arrays of 1,000", rate, "events/s")
    if "redis" in ctx.engines and shutil.which("redis-benchmark"):
        with redis_server() as url:
            port = url.rsplit(":", 1)[1].split("/")[0]
            out = subprocess.run(
                ["redis-benchmark", "-p", port, "-q", "-P", "100", "-n", str(count), "-t", "zadd"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            zadd = float(re.search(r"ZADD: ([\d.]+) requests per second", out)[1])  # type: ignore[index]
        ctx.figure("ceiling: redis-benchmark ZADD, pipelined 100", zadd, "commands/s")


async def _arrays(base: str, batches: int) -> float:
    """POST `batches` JSON arrays of 1,000 events one after the other; return events/s."""
    rng = random.Random(7)
    now = time.time()
    # Made before the clock starts: the client's JSON encoding is not eventd's time.
    bodies = [
        json.dumps(
            [{"timestamp": now - rng.uniform(0, 3600), "value": rng.random()} for _ in range(1000)]
        ).encode()
        for _ in range(batches)
    ]
    headers = {"Content-Type": "application/json"}
    async with aiohttp.ClientSession() as session:
        began = time.perf_counter()
        for body in bodies:
            async with session.post(f"{base}/events", data=body, headers=headers) as response:
                await response.read()
                if response.status != 201:
                    raise RuntimeError(f"a JSON array was answered {response.status}")
        return batches * 1000 / (time.perf_counter() - began)


@scenario("3 and 4. GET /events?limit=100 by depth and GET /stats, by store size")
def reads(ctx: Context) -> None:
    # One daemon per store size, both up at once, measured in turns round after round: the
    # 1,000,000-vs-10,000 ratio then compares runs seconds apart, not minutes (this machine's
    # speed drifts within minutes). Each figure is the median of the rounds.
    sizes = [ctx.size(10_000, 1_000), ctx.size(1_000_000, 5_000)]
    seconds, rounds = ctx.size(3, 1), ctx.size(3, 1)
    page_target = {"memory": "<= 2 ms", "redis": "<= 5 ms"}
    for engine in ctx.engines:
        with ExitStack() as daemons:
            urls: dict[int, dict[str, str]] = {}
            for size in sizes:
                base, _ = daemons.enter_context(serve(engine))
                asyncio.run(fill(base, size))
                urls[size] = asyncio.run(cursors(base, size)) | {"stats": f"{base}/stats"}
            runs: dict[tuple[int, str], list[dict[str, float]]] = {
                (size, what): [] for size in sizes for what in urls[size]
            }
            for _ in range(rounds):
                for size in sizes:
                    for what, url in urls[size].items():
                        got = wrk(url, "get.lua", connections=4, seconds=seconds)
                        runs[(size, what)].append(got)
        for (size, what), got in runs.items():
            if what == "stats":
                name, target = f"GET /stats, {size:,} events in 24h", "<= 1 ms"
            else:
                name, target = f"page at {what} of {size:,}", page_target.get(engine, "")
            p50s = [run["p50_ms"] for run in got]
            note = rounds_note(p50s, "{:.2f}")
            ctx.figure(f"{engine}: {name}, p50", median(p50s), "ms", target, note=note)
            ctx.figure(f"{engine}: {name}, p99", median(run["p99_ms"] for run in got), "ms")
        ratios = [
            big["p50_ms"] / small["p50_ms"]
            for small, big in zip(runs[(sizes[0], "end")], runs[(sizes[1], "end")], strict=True)
        ]
        ctx.figure(
            f"{engine}: last-page p50, {sizes[1]:,} vs {sizes[0]:,}",
            median(ratios),
            "x",
            "<= 1.5 x",
            note=rounds_note(ratios, "{:.2f} x"),
        )


@scenario("5. WebSocket fan-out at a fixed rate, and the rate where delivery falls behind")
def fanout(ctx: Context) -> None:
    from bench.fanout import PROBE_SECONDS, highest_sustained, run_fanout
    from bench.wire import run_wire

    counts = [1, 100, 1000] if not ctx.quick else [1, 10]
    events = ctx.size(1000, 20)
    probe_seconds = PROBE_SECONDS if not ctx.quick else 0.25  # each rate tried in the search
    for subscribers in counts:
        figures = run_fanout(subscribers, events, rate=100)
        target = "<= 50 ms" if subscribers == 1000 else ""
        ctx.figure(
            f"{subscribers} subscribers at 100 events/s: messages/s",
            figures["messages_per_s"],
            "messages/s",
        )
        ctx.figure(f"{subscribers} subscribers at 100 events/s: p50", figures["p50_ms"], "ms")
        ctx.figure(
            f"{subscribers} subscribers at 100 events/s: p99", figures["p99_ms"], "ms", target
        )
        ctx.figure(
            f"{subscribers} subscribers at 100 events/s: daemon CPU",
            figures["daemon_cpu_pct"],
            "% of a core",
        )
        ctx.figure(
            f"{subscribers} subscribers at 100 events/s: subscribers' process CPU",
            figures["subscribers_cpu_pct"],
            "% of a core",
        )
        found = highest_sustained(
            lambda rate, n=subscribers: run_fanout(n, max(20, round(rate * probe_seconds)), rate),
            100,
            figures,
            steps=0 if ctx.quick else 2,
            cap=400 if ctx.quick else 12_800,
        )
        ctx.figure(
            f"{subscribers} subscribers: highest rate delivered in full",
            found.rate,
            "events/s",
            note=sustained_note(found, subscribers),
        )
    # The floor under the widest case: the same message sizes over bare asyncio sockets.
    wire = run_wire(counts[-1], events, rate=100)
    name = f"ceiling: bare asyncio sockets, {counts[-1]} receivers at 100 messages/s"
    ctx.figure(f"{name}: messages/s", wire["messages_per_s"], "messages/s")
    ctx.figure(f"{name}: p50", wire["p50_ms"], "ms")
    ctx.figure(f"{name}: p99", wire["p99_ms"], "ms")
    ctx.figure(f"{name}: sender CPU", wire["sender_cpu_pct"], "% of a core")
    ctx.figure(f"{name}: receiver CPU", wire["receiver_cpu_pct"], "% of a core")


def sustained_note(found: Sustained, subscribers: int) -> str:
    """Say where a search for the highest rate delivered in full ended, and why."""
    if found.bound == "delivery":
        end = f"delivery falls behind at {found.lost:,.0f} events/s"
    elif found.bound == "posting":
        end = f"the POSTs cannot go at {found.lost:,.0f} events/s; delivery keeps up with them"
    else:
        end = "every rate tried was delivered in full"
    tried = ", ".join(f"{rate:,.0f} {outcome}" for rate, outcome in found.probes)
    return f"{found.rate * subscribers:,.0f} messages/s; {end}; tried: {tried}"


@scenario("6. resident memory per stored event and per idle WebSocket (memory engine)")
def memory(ctx: Context) -> None:
    count = ctx.size(1_000_000, 5_000)
    sockets = ctx.size(1000, 20)
    with serve("memory") as (base, proc):
        before = rss_bytes(proc.pid)
        asyncio.run(fill(base, count))
        asyncio.run(_windows_hold(base, count))  # the statistics have caught up
        after = rss_bytes(proc.pid)
        ctx.figure(
            f"per stored event at {count:,} (store, feed, windows)",
            (after - before) / count,
            "bytes",
            "<= 1024 bytes",
        )
        idle = asyncio.run(_idle_sockets(base, sockets, proc.pid))
        ctx.figure(f"per idle WebSocket ({sockets:,} open)", idle, "bytes")


async def _windows_hold(base: str, count: int, *, poll: float = 0.1) -> float:
    """Wait until the 24h window counts `count` events; return the seconds it took.

    Each poll is a `GET /stats`, answered in about 0.3 ms (scenario 4): polling every 10 ms
    takes at most about 3 % of the daemon's time while it catches up.
    """
    began = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        while time.perf_counter() - began < 120:
            async with session.get(f"{base}/stats", params={"window": "24h"}) as response:
                if (await response.json())["count"] >= count:
                    return time.perf_counter() - began
            await asyncio.sleep(poll)
    raise RuntimeError("the statistics did not catch up with the import")


async def _idle_sockets(base: str, count: int, pid: int) -> float:
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        before = rss_bytes(pid)
        sockets = [await session.ws_connect(f"{base}/ws") for _ in range(count)]
        for ws in sockets:  # each connection is set up once its welcome has been sent
            assert (await ws.receive_json())["type"] == "welcome"
        after = rss_bytes(pid)
        for ws in sockets:
            await ws.close()
    return (after - before) / count


@scenario("7. reminders on redis: due-to-receipt delay, and the daemon's CPU while idle")
def reminders(ctx: Context) -> None:
    from bench.reminders import run_reminders

    events, count = ctx.size(100_000, 1_000), ctx.size(1000, 20)
    window, idle = ctx.size(60, 2), ctx.size(60, 1)
    got = run_reminders(events, count, window, idle)
    name = f"{count:,} reminders due within {window} s, {events:,} events over 24 h"
    ctx.figure(f"{name}: due to receipt, p50", got["p50_ms"], "ms")
    ctx.figure(f"{name}: due to receipt, p99", got["p99_ms"], "ms", "<= 1000 ms")
    ctx.figure(f"{name}: due to receipt, max", got["max_ms"], "ms")
    ctx.figure(f"{name}: received before their due time", got["early"], "reminders")
    ctx.figure(
        f"daemon CPU while idle between reminders, over {idle} s",
        got["idle_cpu_pct"],
        "% of a core",
        "<= 1 %",
    )


@scenario("8. GET /transitions over 10 minutes, by store size (10 events per key)")
def transitions(ctx: Context) -> None:
    from bench.transitions import run_transitions

    # Both stores hold events at the same density, so a 10-minute window holds as many events
    # in each: the ratio of the two p50s says whether an answer grows with the store.
    sizes = [ctx.size(100_000, 2_000), ctx.size(1_000_000, 10_000)]
    queries = ctx.size(200, 5)
    target = {"memory": "<= 50 ms", "redis": "<= 200 ms"}
    for engine in ctx.engines:
        p50s = []
        for size in sizes:
            got = run_transitions(engine, size, size // 10, queries)
            p50s.append(got["p50_ms"])
            name = f"{engine}: {size:,} events, {size // 10:,} keys"
            note = f"median {got['transitions_per_window']:,.0f} transitions per window"
            big = size == sizes[-1]
            ctx.figure(
                f"{name}, p50", got["p50_ms"], "ms", target[engine] if big else "", note=note
            )
            ctx.figure(f"{name}, p99", got["p99_ms"], "ms")
            ctx.figure(f"{name}, imported in", got["import_seconds"], "s")
            ctx.figure(f"{name}, held by the transitions index after", got["held_seconds"], "s")
        ctx.figure(f"{engine}: p50, {sizes[1]:,} vs {sizes[0]:,} events", p50s[1] / p50s[0], "x")


@scenario("9. The dashboard open in Chromium while single POSTs arrive (memory engine)")
def dashboard(ctx: Context) -> None:
    from bench.dashboard import run_dashboard

    rate, seconds = ctx.size(1000, 50), ctx.size(10, 2)
    got = run_dashboard(rate, seconds)
    name = f"{rate:,} events/s for {seconds} s"
    note = "Chromium, the daemon and the load generator share the cores"
    ctx.figure(f"{name}: frames per second, median", got["fps_median"], "fps", ">= 50", note=note)
    ctx.figure(f"{name}: frames per second, slowest second", got["fps_min"], "fps")
    ctx.figure(f"{name}: longest frame", got["longest_frame_ms"], "ms", "<= 100 ms")
    ctx.figure(f"{name}: events posted", got["sent"], "events")
    for when in ("before", "middle", "end"):
        ctx.figure(f"{name}: JS heap after a GC, {when}", got[f"heap_{when}_mib"], "MiB")
    cap = f"cap {got['row_cap']:,}"
    ctx.figure(f"{name}: feed rows in the page at the end", got["rows_in_dom"], "rows", note=cap)


@scenario("10. single-event POST /events with auth and metrics on and off (memory engine)")
def auth_and_metrics_cost(ctx: Context) -> None:
    from eventd.config.tokens import new_token

    # On: every request carries a token that is checked for its scope, and is counted.
    secret, table = new_token("bench", frozenset({"write"}))
    with tempfile.TemporaryDirectory() as folder:
        tokens = Path(folder) / "tokens.toml"
        tokens.write_text(table)
        on = {"EVENTD_METRICS_ENABLED": "true", "EVENTD_AUTH_TOKENS_FILE": str(tokens)}
        off = {"EVENTD_METRICS_ENABLED": "false"}
        on_off(ctx, "auth and metrics", off, on, token=secret)


@scenario("11. single-event POST /events with a rate limit on and off (memory engine)")
def rate_limit_cost(ctx: Context) -> None:
    # A limit no request reaches: every request takes a token, none is refused.
    limited = {"EVENTD_LIMITS_RATE": "1000000000/s", "EVENTD_LIMITS_BURST": "1000000000"}
    on_off(ctx, "rate limit", {}, limited)


def on_off(
    ctx: Context, name: str, off: dict[str, str], on: dict[str, str], *, token: str = ""
) -> None:
    """Measure single POSTs with `name` off and on (sending `token` when on), and on's share
    of off."""
    # Off and on take turns, round after round, as the machine's speed drifts (scenario 1).
    # The daemon's CPU time per request is the steadier figure where other processes share
    # the cores: requests/s moves with their load, CPU per request much less.
    seconds, rounds = ctx.size(5, 1), ctx.size(5, 1)
    rps: dict[str, list[float]] = {"off": [], "on": []}
    cpu: dict[str, list[float]] = {"off": [], "on": []}
    for round in range(rounds):
        # Each goes first every other round: the second of a pair runs on a warmer machine.
        for state in ("off", "on") if round % 2 else ("on", "off"):
            with serve("memory", **(on if state == "on" else off)) as (base, proc):
                before = cpu_seconds(proc.pid)
                sent = token if state == "on" else ""
                run = wrk(
                    f"{base}/events", "post_event.lua", connections=32, seconds=seconds, token=sent
                )
                # A refused request (a token not taken) costs less: its rate would flatter.
                assert run["errors"] == 0, f"{name} {state}: wrk saw {run['errors']:.0f} errors"
                used = cpu_seconds(proc.pid) - before
            rps[state].append(run["rps"])
            cpu[state].append(1e6 * used / max(1.0, run["requests"]))
    note = f"median of {rounds} rounds of {seconds} s"
    for state in ("off", "on"):
        ctx.figure(f"{name} {state}: requests/s", median(rps[state]), "requests/s", note=note)
        ctx.figure(f"{name} {state}: daemon CPU per request", median(cpu[state]), "µs")
    shares = [100 * on / off for on, off in zip(rps["on"], rps["off"], strict=True)]
    ctx.figure(
        f"{name} on, requests/s as a share of off",
        median(shares),
        "%",
        ">= 90 %",
        note=rounds_note(shares, "{:.1f} %"),
    )
    costs = [100 * off / on for on, off in zip(cpu["on"], cpu["off"], strict=True)]
    ctx.figure(
        f"{name} on, requests per CPU second as a share of off",
        median(costs),
        "%",
        ">= 90 %",
        note=rounds_note(costs, "{:.1f} %"),
    )


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user and system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@scenario("12. GET /health every 10 ms, and the loop lag, while slow steps run")
def loop_lag(ctx: Context) -> None:
    # Each case runs on a daemon whose loop lag of the last minute has settled (the set-up's
    # own blocks aged out), while a process of its own polls /health one request at a time.
    imports, big = ctx.size(100_000, 2_000), ctx.size(1_000_000, 5_000)
    cases: list[partial[None]] = [
        *(partial(_import, ctx, engine, imports) for engine in ctx.engines),
        partial(_memory_clear, ctx, big),
        *([partial(_rebuild_and_clear, ctx, big)] if "redis" in ctx.engines else []),
        partial(_replays, ctx, ctx.size(1000, 10), ctx.size(10_000, 200)),
    ]
    failed = []
    for case in cases:
        # A full run takes many minutes: a case that fails costs its own figures only.
        try:
            case()
        except Exception:
            if ctx.quick:
                raise
            traceback.print_exc()
            failed.append(case.func.__name__)
    if failed:
        print(f"  cases that failed (their figures are missing): {', '.join(failed)}")


def _import(ctx: Context, engine: str, count: int) -> None:
    from bench.looplag import measure

    with serve(engine) as (base, _):
        name = f"{engine}: NDJSON import of {count:,} events"
        rate = measure(ctx, name, base, lambda: asyncio.run(fill(base, count)))
    ctx.figure(f"{name}: throughput", rate, "events/s")


def _memory_clear(ctx: Context, count: int) -> None:
    from bench.looplag import measure

    with serve("memory") as (base, _):
        asyncio.run(fill(base, count))
        asyncio.run(_stats_hold(base, count))
        name = f"memory: clear of {count:,} events"
        _answered(ctx, name, measure(ctx, name, base, lambda: asyncio.run(_clear(base))))


def _rebuild_and_clear(ctx: Context, count: int) -> None:
    """Start a daemon on a Redis store that holds `count` events, polling /health from before
    it listens; then clear the store."""
    from bench.looplag import Poller, highest_bucket, lag_histogram, measure, write

    with redis_server() as url:
        env = {"EVENTD_ENGINE": "redis", "EVENTD_ENGINE_REDIS_URL": url}
        seed = [sys.executable, "-m", "eventd", "seed", "--count", str(count), "--spread", "23h"]
        subprocess.run(seed, env=os.environ | env, check=True, capture_output=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        poller = Poller(base)
        poller.start()  # refused until the daemon listens
        with daemon_process(port, **env) as proc, closing(poller):
            began = time.perf_counter()
            # The rebuild at start-up can take minutes on a busy machine: longer than
            # wait_ready waits.
            while not poller.ready.wait(1.0):
                if proc.poll() is not None:
                    raise RuntimeError(f"the daemon exited with {proc.returncode}")
            asyncio.run(_rebuilt(base))
            answered = time.perf_counter() - began
            polled = poller.stop()
            bucket = highest_bucket({}, asyncio.run(lag_histogram(base)))
            name = f"redis: start-up on {count:,} events (statistics and transitions rebuilt)"
            ctx.figure(f"{name}: until both were rebuilt", answered, "s")
            write(ctx, name, polled, bucket, "polled from before the daemon listened")
            name = f"redis: clear of {count:,} events"
            _answered(ctx, name, measure(ctx, name, base, lambda: asyncio.run(_clear(base))))


def _answered(ctx: Context, name: str, refusal: str) -> None:
    """Say how a clear was answered when it was not 200."""
    if refusal:
        print(f"  {name}: answered {refusal}")
        ctx.figure(f"{name}: answered", float(refusal.split(":")[0]), "status", note=refusal[:160])


def _replays(ctx: Context, subscribers: int, changes: int) -> None:
    """Have `subscribers` WebSockets replay the same `changes` changes with `since` at once."""
    from bench.looplag import Replayers, measure

    # The subscribers' processes are at full load: the pings of a 20 s heartbeat wait behind
    # thousands of changes, and the daemon would close sockets that are merely busy.
    with serve("memory", EVENTD_FEED_HEARTBEAT="3600") as (base, _):
        asyncio.run(fill(base, changes))
        replayers = Replayers(base, subscribers, since=0, changes=changes)
        replayers.connect()
        name = f"memory: {subscribers:,} subscribers replaying {changes:,} changes each"
        seconds = measure(ctx, name, base, replayers.go)
        ctx.figure(f"{name}: replayed in", seconds, "s")


async def _clear(base: str) -> str:
    """Clear the store; return what the answer was, when it was not 200."""
    async with (
        aiohttp.ClientSession() as session,
        session.delete(f"{base}/events", params={"confirm": "true"}) as response,
    ):
        # A 503 (the store did not answer within its timeout) is the case's finding too.
        return "" if response.status == 200 else f"{response.status}: {await response.text()}"


async def _stats_hold(base: str, count: int) -> None:
    """Wait until the 24h window counts `count` events, through the 503s of a rebuild (an
    import larger than feed.history makes the statistics rebuild from the store)."""
    async with aiohttp.ClientSession() as session:
        for _ in range(6000):
            async with session.get(f"{base}/stats", params={"window": "24h"}) as response:
                if response.status == 200 and (await response.json())["count"] >= count:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("the statistics did not catch up with the import")


async def _rebuilt(base: str) -> None:
    """Wait until the statistics and the transitions index have been rebuilt once."""
    pattern = re.compile(r'^eventd_projection_rebuilds_total\{projection="(\w+)"\} [1-9]', re.M)
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{base}/metrics") as response:
                text = await response.text()
            if {"stats", "timelines"} <= set(pattern.findall(text)):
                return
            await asyncio.sleep(0.1)


# --- report -------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    info: dict[str, str] = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if not line.strip():
            break  # the first processor tells for all
        key, _, value = line.partition(":")
        info[key.strip()] = value.strip()
    # A virtual machine's model name may be as vague as "AMD EPYC": family and model say more.
    cpu = f"{info.get('model name', 'unknown')} (family {info.get('cpu family', '?')}, model "
    cpu += f"{info.get('model', '?')}, stepping {info.get('stepping', '?')}"
    cpu += "; a virtual machine)" if "hypervisor" in info.get("flags", "").split() else ")"
    memory = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())[1]  # type: ignore[index]
    versions = {
        name: metadata.version(name) for name in ("aiohttp", "msgspec", "redis", "sortedcontainers")
    }
    redis_version = (
        subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True
        ).stdout.split()[2]
        if shutil.which("redis-server")
        else "absent"
    )
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": f"{int(memory) / 2**20:.1f} GiB",
        "python": platform.python_version(),
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "redis-server": redis_version,
        "wrk": subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split()[
            1
        ],
    }


def report(ctx: Context, path: Path) -> str:
    lines = [
        "# eventd benchmarks",
        "",
        "Generated by `.venv/bin/python -m bench.run`"
        + (" --quick (tiny sizes: these figures mean nothing)" if ctx.quick else "")
        + f" on {time.strftime('%Y-%m-%d')}. The load generators share the machine's cores with",
        "the daemon. Every figure comes from real processes over loopback.",
        "",
        "## Machine",
        "",
        *(f"- {k}: {v}" for k, v in machine().items()),
        "",
        "## Figures",
        "",
        "| scenario | measurement | value | target | met |",
        "| --- | --- | --- | --- | --- |",
    ]
    for f in ctx.figures:
        met = "" if f.met is None else ("yes" if f.met else "**no**")
        number = f.scenario.split(".")[0]
        name = f"{f.name} ({f.note})" if f.note else f.name
        lines.append(f"| {number} | {name} | {f.value:,.2f} {f.unit} | {f.target} | {met} |")
    if not ctx.quick and ANALYSIS.exists():
        lines += ["", ANALYSIS.read_text().rstrip()]
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the code runs")
    parser.add_argument("--engines", default="memory,redis")
    parser.add_argument("--only", default="", help="comma-separated scenario numbers")
    parser.add_argument("--out", type=Path, default=None, help="directory for the report")
    parser.add_argument(
        "--render",
        action="store_true",
        help="only write benchmarks.md again from the directory's benchmarks.json",
    )
    args = parser.parse_args()
    ctx = Context(quick=args.quick, engines=args.engines.split(","))
    if args.render:
        out = args.out or ROOT / "docs"
        figures = json.loads((out / "benchmarks.json").read_text())
        ctx.figures = [Figure(**figure) for figure in figures]
        report(ctx, out / "benchmarks.md")
        print(f"wrote {out / 'benchmarks.md'}")
        return
    wanted = {part.strip() for part in args.only.split(",") if part.strip()}
    for title, run in SCENARIOS:
        if wanted and not any(title.startswith(w) or f" {w}." in title for w in wanted):
            continue
        print(title)
        ctx.current = title
        run(ctx)
    out = args.out or (ROOT / ("bench/results" if args.quick else "docs"))
    out.mkdir(parents=True, exist_ok=True)
    report(ctx, out / "benchmarks.md")
    (out / "benchmarks.json").write_text(json.dumps([asdict(f) for f in ctx.figures], indent=1))
    print(f"wrote {out / 'benchmarks.md'} and {out / 'benchmarks.json'}")


if __name__ == "__main__":
    main()
