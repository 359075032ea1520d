"""The dashboard in a real Chromium (Debian's) against a real `eventd serve`."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.daemon import Daemon
from tests.dashboard.page import BROWSER_TESTS, open_page, post
from tests.redis_server import RedisServer

pytestmark = BROWSER_TESTS


async def test_the_page_goes_live_and_shows_a_posted_event(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        page = await open_page(browser, daemon.base, problems)
        connection = page.get_by_test_id("connection")
        await expect(connection).to_contain_text("live")
        rows = page.get_by_test_id("feed-row")
        await expect(rows).to_have_count(0)

        await post(daemon.base, {"type": "deploy", "key": "web", "title": "v2 rolled", "value": 3})

        row = rows.filter(has_text="v2 rolled")
        await expect(row).to_have_count(1, timeout=1000)
        await expect(row).to_contain_text("deploy")
        await expect(row).to_contain_text("web")
        await expect(row).to_contain_text("3")
    assert problems == []


async def test_the_theme_follows_the_system(browser: Browser, tmp_path: Path) -> None:
    colours = {}
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        for scheme in ("light", "dark"):
            page = await browser.new_page(color_scheme=scheme)
            await page.goto(f"{daemon.base}/")
            await expect(page.get_by_test_id("connection")).to_contain_text("live")
            colours[scheme] = await page.evaluate(
                "[getComputedStyle(document.body).backgroundColor,"
                " getComputedStyle(document.body).color]"
            )
    assert colours["light"][0] == "rgb(255, 255, 255)"
    assert colours["dark"][0] != colours["light"][0]
    assert colours["dark"][1] != colours["light"][1]


async def test_the_feed_keeps_at_most_the_rows_asked_for(browser: Browser, tmp_path: Path) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        page = await open_page(browser, daemon.base, problems)
        await expect(page.get_by_test_id("connection")).to_contain_text("live")
        await page.get_by_test_id("max-rows").fill("3")
        await page.get_by_test_id("max-rows").dispatch_event("change")
        for n in range(5):
            await post(daemon.base, {"type": "tick", "key": "k", "title": f"tick {n}"})
        rows = page.get_by_test_id("feed-row")
        await expect(rows.first).to_contain_text("tick 4")
        await expect(rows).to_have_count(3)
        await expect(rows.last).to_contain_text("tick 2")
    assert problems == []


async def test_a_restarted_memory_daemon_starts_the_feed_afresh(
    browser: Browser, tmp_path: Path
) -> None:
    # Its positions count from 1 again in a new epoch: the old rows name events it lost.
    problems: list[str] = []
    daemon = Daemon(tmp_path, "--engine", "memory")
    async with daemon:
        page = await open_page(browser, daemon.base, problems)
        connection = page.get_by_test_id("connection")
        await expect(connection).to_contain_text("live")
        await post(daemon.base, {"type": "job", "key": "a", "title": "lost"})
        rows = page.get_by_test_id("feed-row")
        await expect(rows).to_have_count(1)

        await daemon.stop()
        await expect(connection).to_contain_text("reconnecting")
        await daemon.start()
        await expect(connection).to_contain_text("live")
        await expect(rows).to_have_count(0)
        await post(daemon.base, {"type": "job", "key": "a", "title": "kept"})
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("kept")


@pytest.mark.redis
async def test_the_page_resumes_after_a_restart_with_no_missing_and_no_duplicate_row(
    browser: Browser, tmp_path: Path, redis_server: RedisServer
) -> None:
    env = {"EVENTD_ENGINE": "redis", "EVENTD_ENGINE_REDIS_URL": redis_server.url}
    env["EVENTD_ENGINE_REDIS_NAMESPACE"] = f"dash{id(tmp_path)}"
    problems: list[str] = []
    shown = Daemon(tmp_path, **env)
    async with shown, Daemon(tmp_path, **env) as other:
        page = await open_page(browser, shown.base, problems)
        connection = page.get_by_test_id("connection")
        await expect(connection).to_contain_text("live")
        await post(shown.base, {"type": "job", "key": "a", "title": "before"})
        rows = page.get_by_test_id("feed-row")
        await expect(rows).to_have_count(1)

        await shown.stop()
        await expect(connection).to_contain_text("reconnecting")
        # Written through another daemon on the same Redis while the page's daemon is away.
        for n in range(3):
            await post(other.base, {"type": "job", "key": "a", "title": f"away {n}"})
        await shown.start()

        await expect(connection).to_contain_text("resumed")
        await expect(connection).to_contain_text("live")
        await post(shown.base, {"type": "job", "key": "a", "title": "after"})
        await expect(rows.first).to_contain_text("after")
        titles = [text.split("\t") for text in await rows.all_inner_texts()]
        assert [row[3] for row in titles] == ["after", "away 2", "away 1", "away 0", "before"]
