"""Jobs run under fixed ids, with eventd's defaults, registered by the features."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from eventd.jobs.scheduler import SCHEDULER, Job, make_scheduler, schedule
from tests.conftest import MakeClient, make_config


async def test_jobs_have_fixed_ids(make_client: MakeClient) -> None:
    plain = await make_client()
    assert {job.id for job in plain.app[SCHEDULER].get_jobs()} == {
        "stats-tick",
        "window-cleanup",
        "reminders-rearm",
        "transitions-tick",
    }
    kept = await make_client(make_config(retention={"max_age": "30d"}))
    jobs = {job.id: job for job in kept.app[SCHEDULER].get_jobs()}
    assert set(jobs) == {
        "stats-tick",
        "window-cleanup",
        "reminders-rearm",
        "transitions-tick",
        "retention",
    }
    assert all(job.coalesce and job.max_instances == 1 for job in jobs.values())
    assert jobs["retention"].misfire_grace_time == 3600


async def test_a_job_runs_in_a_task_named_after_it() -> None:
    # The loop-lag monitor names the task that held the loop: a job's name says which job.
    scheduler = make_scheduler()
    names: list[str] = []
    ran = asyncio.Event()

    async def run() -> None:
        task = asyncio.current_task()
        assert task is not None
        names.append(task.get_name())
        ran.set()

    schedule(scheduler, Job("tidy", 3600, run))
    scheduler.start()
    try:
        scheduler.get_job("tidy").modify(next_run_time=datetime.now(UTC))
        scheduler.wakeup()
        await asyncio.wait_for(ran.wait(), 30)
    finally:
        scheduler.shutdown(wait=False)
    assert names == ["job-tidy"]
