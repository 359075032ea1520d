"""Scheduled jobs (APScheduler): stats-tick, window-cleanup, retention.

Jobs have fixed ids and `replace_existing`, so a restart or reload never runs one twice;
`coalesce` folds runs missed while the loop was busy into one, and a misfire grace time of
one interval lets a late run still happen instead of being dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger(__name__)


def make_scheduler() -> AsyncIOScheduler:
    """Return a scheduler on the running loop, with eventd's job defaults."""
    return AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1})


def add_job(
    scheduler: AsyncIOScheduler, id: str, seconds: float, run: Callable[[], Awaitable[Any]]
) -> None:
    """Run `run` every `seconds` under the fixed job id `id`."""

    async def job() -> None:
        try:
            await run()
        except Exception:
            log.exception("job %s failed", id)

    scheduler.add_job(
        job,
        "interval",
        seconds=seconds,
        id=id,
        name=id,
        replace_existing=True,
        misfire_grace_time=max(1, int(seconds)),
    )
