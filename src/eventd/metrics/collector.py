"""What the daemon's parts know at any time, read when scraped: nothing is updated per event.

The store worker tells its queue, its batches and its failed engine calls; the hub its
position; the app's counters (eventd.counters) what the WebSocket layer, the projections and
the reminders counted as it happened; the loop-lag monitor how late the event loop ran.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from aiohttp import web
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
)
from prometheus_client.registry import Collector

from eventd.counters import Counters
from eventd.feed.hub import Hub
from eventd.keys import COUNTERS, HUB, LOOP_LAG, SOCKETS, WORKER
from eventd.looplag import BOUNDS as LAG_BOUNDS
from eventd.looplag import INTERVAL as LAG_INTERVAL
from eventd.looplag import LoopLag
from eventd.store.worker import StoreWorker
from eventd.ws.channels import channels

Metric = Any  # a prometheus_client metric family
# Upper bounds of the batch-size histogram, in commands (store.batch_limit is at most 10^9).
BATCH_BOUNDS = tuple(2**n for n in range(11))


class DaemonCollector(Collector):
    """Collects the app's store, feed, WebSocket, projection and reminder metrics."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    def describe(self) -> Iterator[Metric]:
        """Return the metric families without reading anything (for the registry's checks)."""
        return self.collect()

    def collect(self) -> Iterator[Metric]:
        """Yield every metric family, with the values of the moment."""
        app = self._app
        # The worker and the hub exist once the app has started; their families stay empty
        # until then.
        yield from store_metrics(app.get(WORKER))
        yield from feed_metrics(app.get(HUB), app.get(WORKER))
        yield from ws_metrics(app)
        yield from counted_metrics(app[COUNTERS])
        yield from loop_metrics(app.get(LOOP_LAG))


def store_metrics(worker: StoreWorker | None) -> Iterator[Metric]:
    """Yield the store worker's engine, queue depth, batch sizes and failed engine calls."""
    engine = InfoMetricFamily("eventd_store_engine", "The storage engine this daemon uses.")
    depth = GaugeMetricFamily(
        "eventd_store_queue_depth", "Commands waiting in the store worker's queue."
    )
    errors = CounterMetricFamily(
        "eventd_store_engine_errors", "Engine calls that failed, other than timeouts."
    )
    timeouts = CounterMetricFamily(
        "eventd_store_engine_timeouts",
        "Engine calls that got no answer within engine.<name>.timeout.",
    )
    batches = HistogramMetricFamily(
        "eventd_store_batch_commands",
        "Commands the store worker took from its queue in one turn.",
    )
    if worker is not None:
        engine.add_metric([], {"engine": worker.engine.name})
        depth.add_metric([], worker.backlog)
        errors.add_metric([], worker.engine_errors)
        timeouts.add_metric([], worker.engine_timeouts)
        batches.add_metric([], *_histogram(worker.batch_sizes, BATCH_BOUNDS))
    yield from (engine, depth, batches, errors, timeouts)


def _histogram(
    sizes: dict[int, int], bounds: tuple[int, ...]
) -> tuple[list[tuple[str, float]], float]:
    """Return cumulative buckets (with +Inf) and the sum of `sizes` (size -> how often)."""
    buckets = []
    for bound in bounds:
        buckets.append((str(bound), float(sum(n for size, n in sizes.items() if size <= bound))))
    buckets.append(("+Inf", float(sum(sizes.values()))))
    return buckets, float(sum(size * n for size, n in sizes.items()))


def feed_metrics(hub: Hub | None, worker: StoreWorker | None) -> Iterator[Metric]:
    """Yield the feed position the hub dispatched and how far it trails this daemon's writes."""
    position = GaugeMetricFamily(
        "eventd_feed_position", "Position of the last change the hub dispatched."
    )
    lag = GaugeMetricFamily(
        "eventd_feed_lag_changes",
        "Changes this daemon wrote that the hub has not dispatched yet.",
    )
    if hub is not None:
        position.add_metric([], hub.position)
        if worker is not None:
            lag.add_metric([], max(0, worker.written_position - hub.position))
    yield from (position, lag)


def ws_metrics(app: web.Application) -> Iterator[Metric]:
    """Yield the sockets open and the subscriptions by channel (every channel, even at 0)."""
    sockets = GaugeMetricFamily("eventd_ws_connections", "WebSocket connections open.")
    sockets.add_metric([], len(app[SOCKETS]))
    subscribers = GaugeMetricFamily(
        "eventd_ws_subscribers",
        "WebSocket subscriptions by channel (one naming two channels counts in each).",
        labels=["channel"],
    )
    for name, held in channels(app).held().items():
        subscribers.add_metric([name], held)
    yield from (sockets, subscribers)


def counted_metrics(counters: Counters) -> Iterator[Metric]:
    """Yield what the app's counters counted."""
    rebuilds = CounterMetricFamily(
        "eventd_projection_rebuilds",
        "State rebuilt from the store (at start-up, and after changes were lost), by "
        "projection: stats (the rolling windows), timelines (the transitions).",
        labels=["projection"],
    )
    for name, count in sorted(counters.rebuilds.items()):
        rebuilds.add_metric([name], count)
    yield from (
        _counter(
            "eventd_ws_messages_sent",
            "Messages sent to WebSocket clients.",
            counters.ws_messages_sent,
        ),
        _counter(
            "eventd_ws_slow_consumers_closed",
            "WebSocket connections closed because their subscriber fell behind (4008).",
            counters.ws_slow_closed,
        ),
        rebuilds,
        _counter(
            "eventd_reminders_fired",
            "Reminders this daemon claimed and sent, late ones included.",
            counters.reminders_fired,
        ),
        _counter(
            "eventd_reminders_late",
            "Reminders sent after their due time (due while no daemon ran), within "
            "reminders.late_grace.",
            counters.reminders_late,
        ),
        _counter(
            "eventd_reminders_missed",
            "Reminders claimed too late to send: their event had started, or past "
            "reminders.late_grace.",
            counters.reminders_missed,
        ),
    )


def loop_metrics(lag: LoopLag | None) -> Iterator[Metric]:
    """Yield the event loop's lag: a histogram of every tick, the last minute's largest, and
    the blocks longer than log.slow_callback."""
    ticks = HistogramMetricFamily(
        "eventd_loop_lag_seconds",
        f"How late the event loop ran a timer that fires every {LAG_INTERVAL * 1000:g} ms: "
        "the wait every socket had at that moment.",
    )
    largest = GaugeMetricFamily(
        "eventd_loop_lag_max_seconds", "The largest event-loop lag of the last minute."
    )
    blocks = CounterMetricFamily(
        "eventd_loop_blocks", "Times the event loop was held longer than log.slow_callback."
    )
    if lag is not None:
        figures = lag.figures
        cumulative, buckets = 0, []
        for bound, count in zip((*map(str, LAG_BOUNDS), "+Inf"), figures.counts, strict=True):
            cumulative += count
            buckets.append((bound, float(cumulative)))
        ticks.add_metric([], buckets, figures.total)
        largest.add_metric([], lag.max_1m())
        blocks.add_metric([], figures.blocks)
    yield from (ticks, largest, blocks)


def _counter(name: str, help: str, value: int) -> CounterMetricFamily:
    return CounterMetricFamily(name, help, value=value)
