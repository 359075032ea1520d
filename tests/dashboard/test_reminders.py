"""The Reminders panel and the page's toasts in a real Chromium against a real `eventd serve`."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from playwright.async_api import Browser, expect

from tests.daemon import Daemon
from tests.dashboard.page import BROWSER_TESTS, live_page, post

pytestmark = BROWSER_TESTS

# The default reminder offset is 5 minutes: an event starting this far ahead has its
# reminder due in 3 s. The daemon's timer sleeps until that due time (a created event wakes
# it to read the next one), so the test waits about 3 s, not a scheduler tick.
DUE_IN_3S = timedelta(minutes=5, seconds=3)


def starting_in(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def test_a_reminder_due_in_3_s_appears_then_turns_sent_with_a_toast(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        page = await live_page(browser, daemon.base, problems)
        reminders = page.get_by_test_id("reminder")
        await expect(reminders).to_have_count(0)

        await post(
            daemon.base,
            {"type": "meeting", "title": "Standup", "timestamp": starting_in(DUE_IN_3S)},
        )

        standup = reminders.filter(has_text="Standup")
        await expect(standup).to_have_count(1)
        await expect(standup).to_have_attribute("data-state", "pending")
        await expect(standup).to_contain_text("in 0:0")  # counting down from the daemon's time
        await expect(standup).to_have_attribute("data-state", "sent", timeout=10_000)
        toast = page.get_by_test_id("toast").filter(has_text="Standup")
        await expect(toast).to_have_count(1)
        await expect(page.locator("#toasts")).to_have_attribute("role", "status")
        await expect(standup).to_have_count(1)  # moved, not copied

        await page.reload()  # the sent ones of the last hour are read with the pending ones
        await expect(standup).to_have_attribute("data-state", "sent")
        await expect(standup).to_contain_text("sent")
    assert problems == []


async def test_a_deleted_event_s_reminder_leaves_the_list(browser: Browser, tmp_path: Path) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        kept = await post(
            daemon.base, {"title": "Review", "timestamp": starting_in(timedelta(hours=2))}
        )
        gone = await post(
            daemon.base, {"title": "Retro", "timestamp": starting_in(timedelta(hours=1))}
        )
        page = await live_page(browser, daemon.base, problems)
        reminders = page.get_by_test_id("reminder")
        await expect(reminders).to_have_count(2)
        # In due order, each counting down to its due time 55 minutes and 1 h 55 min ahead.
        await expect(reminders.first).to_contain_text("Retro")
        # 55 min less the moments the test took: a slow run may show a minute less.
        await expect(reminders.first).to_contain_text(re.compile(r"in 5[345]:"))
        await expect(reminders.last).to_contain_text(re.compile(r"in 1:5[345]:"))

        async with (
            aiohttp.ClientSession() as session,
            session.delete(f"{daemon.base}/events/{gone['id']}") as response,
        ):
            assert response.status in (200, 204), await response.text()

        await expect(reminders).to_have_count(1)
        await expect(reminders.first).to_contain_text("Review")
        await expect(reminders.first).to_have_attribute("data-event-id", kept["id"])
    assert problems == []


async def test_the_panel_follows_the_page_s_filters_and_fits_a_phone(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        soon = starting_in(timedelta(hours=1))
        await post(daemon.base, {"type": "deploy", "title": "Ship it", "timestamp": soon})
        await post(daemon.base, {"type": "meeting", "title": "Planning", "timestamp": soon})
        page = await live_page(
            browser, daemon.base, problems, viewport={"width": 390, "height": 844}
        )
        reminders = page.get_by_test_id("reminder")
        await expect(reminders).to_have_count(2)

        await page.get_by_test_id("filter-type").fill("deploy")
        await page.get_by_test_id("filter-type").dispatch_event("change")
        await expect(reminders).to_have_count(1)
        await expect(reminders.first).to_contain_text("Ship it")
        # A reminder of another type created now stays out of the filtered list.
        await post(daemon.base, {"type": "meeting", "title": "Lunch", "timestamp": soon})
        await post(daemon.base, {"type": "deploy", "title": "Hotfix", "timestamp": soon})
        await expect(reminders).to_have_count(2)
        await expect(reminders.filter(has_text="Lunch")).to_have_count(0)

        panel = page.locator("#reminders-panel")
        width = await panel.evaluate("(element) => element.scrollWidth <= element.clientWidth")
        assert width, "the panel scrolls sideways at phone width"
    assert problems == []
