"""Events: the event service, its routes, cursors and the retention job."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from eventd.config import Config, parse_retention
from eventd.events import legacy, routes
from eventd.events.channel import EventsChannel
from eventd.events.keys import EVENTS
from eventd.events.retention import apply_retention
from eventd.events.service import EventService
from eventd.http.timeouts import expect_body
from eventd.jobs.scheduler import replace_job
from eventd.keys import CLOCK, CONFIG, NAIVE_TZ, WORKER
from eventd.model import Validator
from eventd.reloading import add_reloader
from eventd.ws.channels import add_channel


def setup(app: web.Application) -> None:
    """Add the event service, the /events routes, the older /event routes, the `events`
    channel and retention."""
    app.cleanup_ctx.append(_service)
    add_channel(app, "events", EventsChannel(app))
    router = app.router
    for path in ("/events", "/events/"):
        router.add_post(path, routes.create, expect_handler=expect_body)
        router.add_get(path, routes.list_events)
        router.add_delete(path, routes.clear)
    router.add_get("/events/{id}", routes.get)
    router.add_put("/events/{id}", routes.replace, expect_handler=expect_body)
    router.add_patch("/events/{id}", routes.patch, expect_handler=expect_body)
    router.add_delete("/events/{id}", routes.delete)
    # The older statistics service's interface.
    router.add_post("/event", legacy.post_event, expect_handler=expect_body)
    router.add_get("/debug/events", legacy.debug_events)
    _retention(app, app[CONFIG])
    add_reloader(app, ("retention",), lambda config: _retention(app, config), name="retention")


def _retention(app: web.Application, config: Config) -> None:
    """Schedule the retention job as `config` says, or none if it keeps everything."""
    rules = parse_retention(config.retention.max_age)
    run = (lambda: apply_retention(app[WORKER], rules, app[CLOCK])) if rules else None
    replace_job(app, "retention", config.retention.interval, run)


async def _service(app: web.Application) -> AsyncIterator[None]:
    validator = Validator(app[CONFIG].limits, app[NAIVE_TZ])
    app[EVENTS] = EventService(app[WORKER], validator, app[CLOCK])
    yield
