"""Rolling statistics: windows, exact ranges, the service, its routes, channel and jobs."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from eventd.config import parse_durations
from eventd.jobs.scheduler import add_job
from eventd.keys import CLOCK, CONFIG, COUNTERS, HUB, WORKER
from eventd.stats import legacy, routes
from eventd.stats.channel import StatsChannel
from eventd.stats.keys import STATS
from eventd.stats.service import StatsService
from eventd.ws.channels import add_channel


def setup(app: web.Application) -> None:
    """Add the statistics service, its routes, the `stats` channel and its jobs."""
    app.cleanup_ctx.append(_service)
    add_channel(app, "stats", StatsChannel(app))
    app.router.add_get("/stats", routes.stats)
    app.router.add_get("/stats/history", routes.history)
    app.router.add_get("/statistics", legacy.statistics)  # the older service's interface
    config = app[CONFIG].stats
    add_job(app, "stats-tick", config.push_interval, lambda: app[STATS].tick())
    add_job(app, "window-cleanup", config.cleanup_interval, lambda: app[STATS].cleanup_job())


async def _service(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG].stats
    stats = StatsService(
        app[WORKER],
        app[HUB],
        app[CLOCK],
        parse_durations(config.windows),
        catch_up_timeout=config.catch_up_timeout,
    )
    stats.counters = app[COUNTERS]
    await stats.start()
    app[STATS] = stats
    yield
    await stats.stop()
