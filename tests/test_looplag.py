"""The loop-lag monitor: it names the task (and the line) that held the loop, rate-limits its
report, and its figures reach /health and /metrics.

The slow steps here hold the loop until the watcher thread has seen them, not for a guessed
time: they end on a condition (with a bound that turns a hang into a failure).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from eventd import looplag
from eventd.keys import LOOP_LAG
from eventd.looplag import Blocker, LoopLag, blocker
from eventd.reloading import RELOADERS
from tests.conftest import MakeClient, make_config
from tests.waiting import wait_for

THRESHOLD = 0.02  # seconds: small, so the injected steps are short
LIBRARY = "test_a_frame_outside_eventd_says_which_of_eventd_called_it.<locals>.library_code"
BOUND = 30.0  # seconds a slow step holds the loop at most, should the watcher never look


@pytest.fixture
async def lag() -> AsyncIterator[LoopLag]:
    monitor = LoopLag(THRESHOLD, interval=0.01)
    monitor.start()
    yield monitor
    monitor.stop()


def hold_until_seen(monitor: LoopLag) -> None:
    """Hold the loop (the GIL is let go between bytecodes) until the watcher has seen it."""
    deadline = time.monotonic() + BOUND
    while monitor._seen is None and time.monotonic() < deadline:  # the blocking line
        pass


def parse_first(monitor: LoopLag) -> None:
    """Hold the loop for the watcher's first look (no call of ours in the loop: the place
    seen is this function's)."""
    deadline = time.monotonic() + BOUND
    while monitor._seen is None and time.monotonic() < deadline:
        pass


def store_after(monitor: LoopLag) -> None:
    """Hold the loop for three more looks."""
    deadline = time.monotonic() + BOUND
    while (seen := monitor._seen) is None or sum(seen.places.values()) < 4:
        if time.monotonic() > deadline:
            break


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "eventd.looplag"]


async def test_a_task_that_holds_the_loop_is_named_with_its_line(
    lag: LoopLag, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "eventd.looplag")

    async def import_everything() -> None:
        hold_until_seen(lag)

    await asyncio.create_task(import_everything(), name="slow-import")
    await wait_for(lambda: bool(warnings(caplog)), "the WARNING")

    [line] = warnings(caplog)
    assert line.startswith("event loop blocked for ")
    assert "(log.slow_callback is 20 ms)" in line
    assert "task 'slow-import'" in line
    assert "import_everything" in line  # the task's coroutine
    assert "test_looplag.py:" in line and "in hold_until_seen" in line  # where it was held
    assert lag.figures.blocks == 1
    assert lag.max_1m() > THRESHOLD


async def test_a_plain_callback_is_named_by_its_function(
    lag: LoopLag, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "eventd.looplag")

    def on_timer() -> None:
        hold_until_seen(lag)

    asyncio.get_running_loop().call_soon(on_timer)
    await wait_for(lambda: bool(warnings(caplog)), "the WARNING")

    [line] = warnings(caplog)
    assert "by callback " in line and "on_timer at " in line
    assert "task '" not in line


async def test_the_place_a_block_was_most_often_seen_is_named_too(
    lag: LoopLag, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "eventd.looplag")

    async def handle_import() -> None:
        parse_first(lag)
        store_after(lag)

    await asyncio.create_task(handle_import(), name="import")
    await wait_for(lambda: bool(warnings(caplog)), "the WARNING")

    [line] = warnings(caplog)
    first, _, most = line.partition("; most often at ")
    assert "task 'import'" in first and first.endswith(" in parse_first")
    assert "in store_after (" in most and most.endswith(" looks)")


def test_a_frame_outside_eventd_says_which_of_eventd_called_it() -> None:
    seen: list[Blocker] = []

    def library_code() -> None:  # stands for a library that eventd calls
        seen.append(blocker("t", sys._getframe()))

    # A frame whose code is eventd's: compiled under the name of one of eventd's files.
    eventd_code = compile("call()", looplag.__file__, "exec")
    exec(eventd_code, {"call": library_code})

    [found] = seen
    assert "test_looplag.py:" in found.where and found.where.endswith(" in " + LIBRARY)
    assert found.via == "eventd/looplag.py:1 in <module>"


def test_blocks_after_a_report_are_counted_then_summarized(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "eventd.looplag")
    monitor = LoopLag(0.1)
    first = Blocker("store-worker-memory", "StoreWorker._run", "eventd/store/memory.py:9 in x", "")
    worst = Blocker("feed-hub", "Hub._run", "eventd/feed/hub.py:7 in y", "")
    monitor._report(0.5, 100.0, first)
    monitor._report(0.2, 101.0, first)
    monitor._report(0.9, 102.0, worst)
    assert len(warnings(caplog)) == 1  # one line; the other two only counted

    monitor._report(0.3, 111.0, None)  # past the quiet interval: the summary, then this one
    summary, latest = warnings(caplog)[1:]
    assert summary.startswith(
        "event loop blocks not reported within 10 s of the previous report: 2;"
    )
    assert "the longest, 900 ms, by task 'feed-hub' (Hub._run) at eventd/feed/hub.py:7" in summary
    assert "by a step that ended before the watcher could see it" in latest
    assert monitor.figures.blocks == 4

    monitor._report(0.4, 112.0, first)
    monitor.stop()  # what was only counted is not lost when the daemon stops
    assert warnings(caplog)[-1].startswith(
        "event loop blocks not reported within 10 s of the previous report: 1;"
    )


async def test_health_and_metrics_carry_the_lag(make_client: MakeClient) -> None:
    client = await make_client()
    lag = client.app[LOOP_LAG]
    await wait_for(lambda: lag.figures.ticks > 0, "a tick of the timer")

    response = await client.get("/health")
    figures = (await response.json())["loop_lag_ms"]
    assert set(figures) == {"last", "max_1m"}
    assert all(isinstance(v, float) and v >= 0 for v in figures.values())
    assert figures["max_1m"] >= figures["last"]

    text = await (await client.get("/metrics")).text()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {s.name: s.value for f in families.values() for s in f.samples if not s.labels}
    assert families["eventd_loop_lag_seconds"].type == "histogram"
    assert samples["eventd_loop_lag_seconds_count"] >= 1
    assert samples["eventd_loop_lag_max_seconds"] >= 0
    assert samples["eventd_loop_blocks_total"] == 0


async def test_the_threshold_follows_a_reload(make_client: MakeClient) -> None:
    client = await make_client()
    config = make_config(log={"slow_callback": 0.25})
    for reloader in client.app[RELOADERS]:
        if reloader.covers("log.slow_callback"):
            result: Any = reloader.apply(config)
            assert result is None
    assert client.app[LOOP_LAG].threshold == 0.25


async def test_the_task_that_starts_the_app_is_named(make_client: MakeClient) -> None:
    # Under `eventd serve` that is aiohttp's task, where the rebuilds of the start-up run.
    await make_client()
    task = asyncio.current_task()
    assert task is not None and task.get_name() == "app-lifecycle"
