"""Timelines and transitions: how a field's value changed along each key, and across keys.

The routes, the `transitions` channel and its tick job; the index of the indexed fields.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from eventd.config import parse_paths
from eventd.fields import parse_path
from eventd.jobs.scheduler import add_job
from eventd.keys import CLOCK, CONFIG, COUNTERS, HUB, WORKER
from eventd.timelines import routes
from eventd.timelines.channel import TransitionsChannel
from eventd.timelines.keys import TRANSITIONS
from eventd.timelines.service import TransitionsService
from eventd.ws.channels import add_channel


def setup(app: web.Application) -> None:
    """Add the transitions service, the routes, the `transitions` channel and its tick job."""
    app.cleanup_ctx.append(_service)
    add_channel(app, "transitions", TransitionsChannel(app))
    app.router.add_get("/timelines", routes.list_timelines)
    app.router.add_get("/timelines/{key}", routes.key_timeline)
    app.router.add_get("/transitions", routes.list_transitions)
    # Pushed as often as the statistics are: one setting for how often dashboards move.
    add_job(app, "transitions-tick", app[CONFIG].stats.push_interval, _tick(app))


def _tick(app: web.Application) -> Callable[[], Awaitable[None]]:
    async def tick() -> None:
        await app[TRANSITIONS].tick()

    return tick


async def _service(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG]
    paths = tuple(parse_path(text) for text in parse_paths(config.timelines.indexed_fields))
    service = TransitionsService(
        app[WORKER],
        app[HUB],
        app[CLOCK],
        paths,
        catch_up_timeout=config.stats.catch_up_timeout,
    )
    service.counters = app[COUNTERS]
    await service.start()
    app[TRANSITIONS] = service
    yield
    await service.stop()
