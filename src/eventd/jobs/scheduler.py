"""Scheduled jobs (APScheduler): each feature registers its own with `add_job`.

Jobs have fixed ids and `replace_existing`, so a restart or reload never runs one twice;
`coalesce` folds runs missed while the loop was busy into one, and a misfire grace time of
one interval lets a late run still happen instead of being dropped.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    """A job to run every `seconds` under the fixed id `id`."""

    id: str
    seconds: float
    run: Callable[[], Awaitable[Any]]


JOBS: web.AppKey[list[Job]] = web.AppKey("jobs")
SCHEDULER: web.AppKey[AsyncIOScheduler] = web.AppKey("scheduler")


def setup(app: web.Application) -> None:
    """Make room for the features' jobs; `start_jobs` runs them once the app has started."""
    app[JOBS] = []


def add_job(
    app: web.Application, id: str, seconds: float, run: Callable[[], Awaitable[Any]]
) -> None:
    """Register `run` to be called every `seconds` once the daemon runs."""
    app[JOBS].append(Job(id, seconds, run))


def replace_job(
    app: web.Application, id: str, seconds: float, run: Callable[[], Awaitable[Any]] | None
) -> None:
    """Run `run` every `seconds` under `id` from now on, in place of what ran under `id`
    (None: nothing); a reload's way to change a job while the daemon runs."""
    jobs = app[JOBS]
    jobs[:] = [job for job in jobs if job.id != id]
    if run is not None:
        jobs.append(Job(id, seconds, run))
    scheduler = app.get(SCHEDULER)
    if scheduler is None:  # not started yet: `start_jobs` schedules what `JOBS` holds
        return
    if scheduler.get_job(id) is not None:
        scheduler.remove_job(id)
    if run is not None:
        schedule(scheduler, jobs[-1])


async def start_jobs(app: web.Application) -> AsyncIterator[None]:
    """Run the registered jobs while the app runs (a cleanup context, added after every
    feature's, so that the jobs stop before the features they use)."""
    scheduler = make_scheduler()
    for job in app[JOBS]:
        schedule(scheduler, job)
    scheduler.start()
    app[SCHEDULER] = scheduler
    yield
    scheduler.shutdown(wait=False)


def make_scheduler() -> AsyncIOScheduler:
    """Return a scheduler on the running loop, with eventd's job defaults."""
    return AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1})


def schedule(scheduler: AsyncIOScheduler, job: Job) -> None:
    """Add `job` to `scheduler`; a failed run is logged, and the next one runs."""

    async def run() -> None:
        # APScheduler's tasks are unnamed: the name tells a slow run apart in the loop-lag log.
        task = asyncio.current_task()
        if task is not None:
            task.set_name(f"job-{job.id}")
        try:
            await job.run()
        except Exception:
            log.exception("job %s failed", job.id)

    scheduler.add_job(
        run,
        "interval",
        seconds=job.seconds,
        id=job.id,
        name=job.id,
        replace_existing=True,
        misfire_grace_time=max(1, int(job.seconds)),
    )
