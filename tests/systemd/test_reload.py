"""The reloaders in process: retention rescheduled, a failing reloader, what needs a restart."""

from __future__ import annotations

import logging

import pytest

from eventd.config import Config, settings
from eventd.jobs.scheduler import SCHEDULER
from eventd.reloading import RELOADERS, Reloader, add_reloader
from eventd.systemd.reload import apply, changed
from tests.conftest import MakeClient, make_config


def test_changed_names_every_setting_that_differs() -> None:
    old = make_config()
    new = make_config(log={"level": "debug"}, server={"port": 9000})
    assert changed(old, new) == ["server.port", "log.level"]
    assert changed(old, old) == []


async def test_retention_is_rescheduled_and_removed(make_client: MakeClient) -> None:
    initial = make_config()
    client = await make_client(initial)
    app = client.app
    scheduler = app[SCHEDULER]
    assert scheduler.get_job("retention") is None
    kept = make_config(retention={"max_age": "30d", "interval": 60})
    assert await apply(app, initial, initial, kept)
    job = scheduler.get_job("retention")
    assert job is not None and job.trigger.interval.total_seconds() == 60
    assert await apply(app, initial, kept, initial)
    assert scheduler.get_job("retention") is None


async def test_a_failing_reloader_is_logged_and_the_others_run(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    initial = make_config()
    client = await make_client(initial)
    app = client.app
    seen: list[Config] = []

    def broken(config: Config) -> None:
        raise RuntimeError("broken on purpose")

    async def later(config: Config) -> None:
        seen.append(config)

    app[RELOADERS].insert(0, Reloader(("limits.rate",), broken, "broken"))
    add_reloader(app, ("stats",), later)
    new = make_config(log={"level": "debug"})
    with caplog.at_level(logging.INFO):
        assert not await apply(app, initial, initial, new)
    assert seen == [new]
    assert "reload: applying broken failed" in caplog.text
    # No reloader in this app applies log.level (eventd serve adds that one).
    assert "reload: log.level changed; it takes effect at the next restart" in caplog.text


async def test_every_reloader_names_settings_that_exist(make_client: MakeClient) -> None:
    client = await make_client()
    names = {s.name for s in settings()}
    sections = {name.split(".")[0] for name in names}
    for reloader in client.app[RELOADERS]:
        for key in reloader.keys:
            assert key in names or key in sections, key


async def test_a_reload_changes_the_rate_limits_of_a_running_app(make_client: MakeClient) -> None:
    initial = make_config(limits={"rate": "100/s", "burst": 1})
    client = await make_client(initial)
    assert (await client.get("/events")).status == 200
    assert (await client.get("/events")).status == 429  # a burst of one, the clock stands

    wider = make_config(limits={"rate": "100/s", "burst": 5})
    assert await apply(client.app, initial, initial, wider)
    assert (await client.get("/events")).status == 200
    off = make_config()
    assert await apply(client.app, initial, wider, off)
    assert all([(await client.get("/events")).status == 200 for _ in range(10)])
