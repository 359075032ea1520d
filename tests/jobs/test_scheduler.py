"""Jobs run under fixed ids, with eventd's defaults, registered by the features."""

from __future__ import annotations

from eventd.jobs.scheduler import SCHEDULER
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
