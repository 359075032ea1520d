"""Reminders: the timer that sends them when due, their routes, the `reminders` channel and
the safety-net job that re-arms the timer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web

from eventd.config import parse_offsets
from eventd.jobs.scheduler import add_job
from eventd.keys import CLOCK, CONFIG, COUNTERS, HUB, WORKER
from eventd.reminders import routes
from eventd.reminders.channel import RemindersChannel
from eventd.reminders.keys import REMINDERS
from eventd.reminders.service import ReminderService
from eventd.times import resolve_timezone
from eventd.ws.channels import add_channel

REARM_JOB = "reminders-rearm"
REARM_SECONDS = 60.0  # how often the safety net wakes the timer to read the next due time


def setup(app: web.Application) -> None:
    """Add the reminder service, its routes, the `reminders` channel and the re-arm job."""
    app.cleanup_ctx.append(_service)
    config = app[CONFIG]
    zone = resolve_timezone(config.reminders.timezone or config.time.naive_timezone)
    add_channel(app, "reminders", RemindersChannel(app, zone))
    app.router.add_get("/reminders", routes.list_reminders)
    app.router.add_get("/events/{id}/reminders", routes.event_reminders)
    add_job(app, REARM_JOB, REARM_SECONDS, _rearm(app))


def _rearm(app: web.Application) -> Callable[[], Awaitable[None]]:
    async def rearm() -> None:
        app[REMINDERS].rearm()

    return rearm


async def _service(app: web.Application) -> AsyncIterator[None]:
    config = app[CONFIG].reminders
    service = ReminderService(
        app[WORKER],
        app[HUB],
        app[CLOCK],
        default_offsets=parse_offsets(config.default_offsets),
        late_grace=config.late_grace,
    )
    service.counters = app[COUNTERS]
    await service.start()
    app[REMINDERS] = service
    yield
    await service.stop()
