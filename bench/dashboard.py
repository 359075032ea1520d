"""The dashboard under load: frames, the longest frame and the JS heap while events pour in.

    .venv/bin/python -m bench.dashboard [--rate 1000] [--seconds 10] [--engine memory]

A real `eventd serve` and Debian's Chromium (headless, driven by Playwright) with the
dashboard open at 1280x720. The page records every `requestAnimationFrame` callback from
the start of the load. This process POSTs single events at `--rate` per second, paced, for
`--seconds`. Then the page reports the frames per second (the count of frames in each whole
second of the load), the longest gap between two frames, and the JS heap after a forced
garbage collection: before the load, at its middle and at its end. With the feed's row cap
reached early, the heap at the middle and at the end should be about the same. Chromium, the
daemon and this load generator share the machine's cores. Prints figures; never asserts
timings.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from statistics import median
from typing import Any

import aiohttp
from playwright.async_api import CDPSession, Page, async_playwright

from bench.ingest import daemon, free_port
from bench.ready import wait_ready

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
CONCURRENCY = 16  # POSTs in flight at once: enough to hold the rate, few enough to pace it

# Installed before the page's own scripts: every frame's time from the moment it is started.
RECORD_FRAMES = """
window.__frames = [];
window.__recordFrames = () => {
  const tick = (time) => { window.__frames.push(time); requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
};
"""


async def pace(base: str, rate: int, seconds: float) -> int:
    """POST `rate` events per second for `seconds`, each at its slot; return how many went."""
    total = int(rate * seconds)
    queue: asyncio.Queue[int] = asyncio.Queue(maxsize=CONCURRENCY * 4)
    start = time.monotonic()
    sent = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal sent
        while True:
            n = await queue.get()
            if n < 0:
                return
            event = {"type": f"t{n % 7}", "key": f"k{n % 50}", "title": f"event {n}", "value": n}
            async with session.post(f"{base}/events", json=event) as response:
                await response.read()
                sent += response.status == 201

    async with aiohttp.ClientSession() as session:
        workers = [asyncio.create_task(worker(session)) for _ in range(CONCURRENCY)]
        for n in range(total):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await queue.put(n)  # waits while the daemon is behind: the load does not pile up
        for _ in workers:
            await queue.put(-1)
        await asyncio.gather(*workers)
    return sent


async def heap(page: Page, cdp: CDPSession) -> float:
    """Return the page's JS heap in MiB after a full garbage collection."""
    await cdp.send("HeapProfiler.collectGarbage")
    usage = await cdp.send("Runtime.getHeapUsage")
    return float(usage["usedSize"]) / 2**20


def frame_figures(frames: list[float], seconds: float) -> dict[str, float]:
    """Return the median frames per whole second and the longest gap between frames."""
    start = frames[0]
    per_second = [0] * int(seconds)
    for time_ms in frames:
        second = int((time_ms - start) / 1000)
        if second < len(per_second):
            per_second[second] += 1
    gaps = [b - a for a, b in itertools.pairwise(frames)]
    return {
        "fps_median": float(median(per_second)),
        "fps_min": float(min(per_second)),
        "longest_frame_ms": max(gaps),
        "frames": float(len(frames)),
    }


async def run_page(base: str, rate: int, seconds: float) -> dict[str, Any]:
    """Open the dashboard, load the daemon, and return what the page measured."""
    async with aiohttp.ClientSession() as session:
        await wait_ready(session, base)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        await page.add_init_script(RECORD_FRAMES)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(f"{base}/")
        await page.get_by_test_id("connection").filter(has_text="live").wait_for()
        cdp = await page.context.new_cdp_session(page)
        before = await heap(page, cdp)
        await page.evaluate("window.__recordFrames()")
        sent = await pace(base, rate, seconds / 2)
        middle = await heap(page, cdp)
        sent += await pace(base, rate, seconds / 2)
        frames = await page.evaluate("window.__frames")
        end = await heap(page, cdp)
        rows = await page.get_by_test_id("feed-row").count()
        cap = int(await page.get_by_test_id("max-rows").input_value())
        await browser.close()
    figures = frame_figures(frames, seconds)
    return figures | {
        "sent": sent,
        "heap_before_mib": before,
        "heap_middle_mib": middle,
        "heap_end_mib": end,
        "rows_in_dom": rows,
        "row_cap": cap,
        "page_errors": len(errors),
    }


def run_dashboard(rate: int, seconds: float, engine: str = "memory") -> dict[str, Any]:
    """Run the scenario against a daemon of its own; return the figures."""
    with daemon(free_port(), EVENTD_ENGINE=engine) as base:
        return asyncio.run(run_page(base, rate, seconds))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--engine", default="memory")
    args = parser.parse_args()
    print(json.dumps(run_dashboard(args.rate, args.seconds, args.engine), indent=1))


if __name__ == "__main__":
    main()
