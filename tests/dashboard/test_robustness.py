"""The dashboard against hostile data and bad timing: long words and direction overrides,
a phone's width, odd numbers in the inputs, HTTP answers older than the live changes, the
page's security policy, and the timeline reading only what is new."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from playwright.async_api import APIResponse, Browser, Request, Route, expect

from tests.daemon import Daemon
from tests.dashboard.page import BROWSER_TESTS, live_page, post

pytestmark = BROWSER_TESTS

INDEXED = {"EVENTD_TIMELINES_INDEXED_FIELDS": "status"}
HOUR = timedelta(hours=1)
NO_SIDEWAYS = "document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def starting_in(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


async def delete(base: str, path: str) -> None:
    async with aiohttp.ClientSession() as session, session.delete(base + path) as answer:
        assert answer.status in (200, 204), await answer.text()


class Held:
    """Answers to requests matching a pattern, read from the daemon at once but given to the
    page only when released: an answer computed before something happened, received after."""

    def __init__(self) -> None:
        self.asked: asyncio.Queue[Route] = asyncio.Queue()

    async def hold(self, route: Route) -> None:
        await self.asked.put(route)

    async def next(self) -> tuple[Route, APIResponse]:
        """Wait for the next request; return its route and the daemon's answer to it now."""
        route = await asyncio.wait_for(self.asked.get(), timeout=10)
        return route, await route.fetch()


async def test_long_words_never_make_the_page_scroll_sideways(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory", **INDEXED) as daemon:
        await post(daemon.base, {"type": "c", "key": "k2", "data": {"status": "S" * 2000}})
        await post(daemon.base, {"type": "c", "key": "k2", "data": {"status": "ok"}})
        await post(daemon.base, {"type": "a", "key": "K" * 250, "title": "W" * 4096, "value": 1})
        for width, height in [(1280, 720), (390, 844)]:
            viewport = {"width": width, "height": height}
            page = await live_page(
                browser, daemon.base, problems, path="/?tl_key=k2", viewport=viewport
            )
            await expect(page.get_by_test_id("timeline-point")).to_have_count(2)
            await expect(page.locator(".transitions-table tbody tr")).to_have_count(1)
            assert await page.evaluate(NO_SIDEWAYS), f"sideways at {width}"
            await page.close()
            # A long type in the link: the filter's status lines must wrap it too.
            page = await live_page(
                browser, daemon.base, problems, path=f"/?type={'T' * 7000}", viewport=viewport
            )
            await expect(page.get_by_test_id("transitions-status")).to_contain_text("TTTT")
            assert await page.evaluate(NO_SIDEWAYS), f"sideways at {width} with a long type"
            await page.close()
    assert problems == []


async def test_a_phone_shows_the_feed_s_value_and_data_toggle(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        viewport = {"width": 390, "height": 844}
        page = await live_page(browser, daemon.base, problems, viewport=viewport)
        await post(
            daemon.base,
            {"type": "deployment", "key": "web-frontend", "title": "a rollout", "value": 12345},
        )
        row = page.get_by_test_id("feed-row")
        await expect(row).to_have_count(1)
        for cell in (row.locator("td.num"), row.get_by_test_id("feed-expand")):
            box = await cell.bounding_box()
            assert box is not None
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        # The key is not lost: it is shown under the title.
        key = await row.locator("td.title").evaluate(
            "(cell) => getComputedStyle(cell, '::after').content"
        )
        assert key == '"web-frontend"'
    assert problems == []


async def test_number_inputs_take_what_is_typed_within_their_bounds(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        page = await live_page(browser, daemon.base, problems)
        rows = page.get_by_test_id("max-rows")
        for typed, used in [("1e3", "1000"), ("2.9", "3"), ("99999999", "5000"), ("0", "1")]:
            await rows.fill(typed)
            await rows.dispatch_event("change")
            await expect(rows).to_have_value(used)
        size = page.get_by_test_id("feed-page-size")
        await size.fill("-5")
        await size.dispatch_event("change")
        await expect(size).to_have_value("1")
    assert problems == []


async def test_the_policy_refuses_inline_script_and_the_page_breaks_none_of_it(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory", **INDEXED) as daemon:
        await post(daemon.base, {"key": "k", "value": 3, "data": {"status": "up"}})
        page = await live_page(browser, daemon.base, problems, path="/?tl_key=k")
        # Charts, the socket and every panel working under the policy: no violation.
        await expect(page.get_by_test_id("timeline-point")).to_have_count(1)
        await expect(page.get_by_test_id("timeline-chart").locator("canvas")).to_have_count(1)
        assert problems == []
        ran = await page.evaluate(
            """() => {
                window.ran = false;
                const script = document.createElement("script");
                script.textContent = "window.ran = true";
                document.body.append(script);
                return window.ran;
            }"""
        )
        assert ran is False
    assert len(problems) == 1 and "Content Security Policy" in problems[0], problems


async def test_a_reminders_read_answered_after_a_delete_does_not_bring_it_back(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        gone = await post(
            daemon.base, {"title": "Retro", "timestamp": starting_in(timedelta(hours=1))}
        )
        page = await live_page(browser, daemon.base, problems)
        reminders = page.get_by_test_id("reminder")
        await expect(reminders).to_have_count(1)

        held = Held()
        await page.route("**/reminders?*", held.hold)
        await post(daemon.base, {"title": "Review", "timestamp": starting_in(timedelta(hours=2))})
        route, answer = await held.next()  # lists Retro and Review
        await delete(daemon.base, f"/events/{gone['id']}")
        await expect(page.get_by_test_id("feed-row")).to_have_count(1)  # the delete arrived
        await expect(reminders).to_have_count(0)
        await route.fulfill(response=answer)

        await expect(reminders).to_have_count(1)
        await expect(reminders.first).to_contain_text("Review")
        await page.unroute("**/reminders?*")
    assert problems == []


async def test_changes_during_a_history_read_are_kept_and_the_count_follows(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        page = await live_page(browser, daemon.base, problems)
        # Both start later, so the Reminders panel on the same socket shows when the changes
        # have arrived (the feed's subscription, made first, hears of each change first).
        first = await post(
            daemon.base, {"type": "job", "title": "one", "timestamp": starting_in(HOUR)}
        )
        second = await post(
            daemon.base, {"type": "job", "title": "two", "timestamp": starting_in(HOUR)}
        )
        rows = page.get_by_test_id("feed-row")
        reminders = page.get_by_test_id("reminder")
        await expect(rows).to_have_count(2)
        await expect(reminders).to_have_count(2)

        held = Held()
        await page.route("**/events?*", held.hold)
        await page.get_by_test_id("feed-history").click()
        route, answer = await held.next()  # both events, as they were
        async with (
            aiohttp.ClientSession() as session,
            session.patch(f"{daemon.base}/events/{first['id']}", json={"title": "ONE"}) as patch,
        ):
            assert patch.status == 200, await patch.text()
        await delete(daemon.base, f"/events/{second['id']}")
        await expect(reminders).to_have_count(1)
        await expect(reminders.first).to_contain_text("ONE")
        await route.fulfill(response=answer)

        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("ONE")
        await expect(page.get_by_test_id("feed-status")).to_have_text("1 event")
        await page.unroute("**/events?*")

        # Deleted elsewhere while the history page shows it: the count goes down with it.
        await delete(daemon.base, f"/events/{first['id']}")
        await expect(rows).to_have_count(0)
        await expect(page.get_by_test_id("feed-status")).to_have_text("0 events")
    assert problems == []


async def test_new_points_are_read_from_the_last_one_on_into_the_same_chart(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    asked: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory", **INDEXED) as daemon:
        for status in ("start", "wait"):
            await post(daemon.base, {"key": "o", "data": {"status": status}})
        page = await live_page(browser, daemon.base, problems, path="/?tl_key=o")

        def seen(request: Request) -> None:
            if "/timelines/o" in request.url:
                asked.append(request.url)

        page.on("request", seen)
        points = page.get_by_test_id("timeline-point")
        await expect(points).to_have_count(2)
        canvas = page.get_by_test_id("timeline-chart").locator("canvas")
        # A first new point: the reads of the page's start are over once it shows.
        await post(daemon.base, {"key": "o", "data": {"status": "start"}})
        await expect(points).to_have_count(3)
        await canvas.evaluate("(canvas) => { canvas.dataset.first = 'yes'; }")
        last = await points.last.get_attribute("data-timestamp")
        asked.clear()

        await post(daemon.base, {"key": "o", "data": {"status": "wait"}})
        await expect(points).to_have_count(4)
        assert await points.evaluate_all("ps => ps.map(p => JSON.parse(p.dataset.value))") == [
            "start",
            "wait",
            "start",
            "wait",
        ]
        assert last is not None
        assert asked and all(f"start={last[:19]}" in url.replace("%3A", ":") for url in asked)
        # The same uPlot, given the new data: the canvas is the one marked.
        await expect(canvas).to_have_attribute("data-first", "yes")
    assert problems == []


async def test_a_paused_view_and_the_history_lose_what_is_deleted_elsewhere(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        page = await live_page(browser, daemon.base, problems)
        gone = await post(daemon.base, {"type": "job", "title": "gone"})
        await post(daemon.base, {"type": "job", "title": "kept"})
        rows = page.get_by_test_id("feed-row")
        await expect(rows).to_have_count(2)
        await page.get_by_test_id("feed-pause").click()
        await delete(daemon.base, f"/events/{gone['id']}")
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("kept")
        await page.get_by_test_id("feed-pause").click()

        # Everything deleted while the history shows a page: it is read again, from the top.
        await page.get_by_test_id("feed-history").click()
        await expect(page.get_by_test_id("feed-status")).to_have_text("1 event")
        await delete(daemon.base, "/events?confirm=true")
        await expect(rows).to_have_count(0)
        await expect(page.get_by_test_id("feed-status")).to_have_text("0 events")
        await post(daemon.base, {"type": "job", "title": "after"})
        await page.get_by_test_id("feed-history").click()
        await expect(rows).to_have_count(1)
        await expect(page.get_by_test_id("feed-status")).to_have_text("1 event")
    assert problems == []


async def test_direction_overrides_stay_inside_the_text_that_holds_them(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        page = await live_page(browser, daemon.base, problems)
        await post(
            daemon.base,
            {
                "type": "\u202edeploy",
                "key": "web",
                "title": "Now \u202efired",
                "timestamp": starting_in(timedelta(minutes=5, seconds=2)),
            },
        )
        reminder = page.get_by_test_id("reminder")
        await expect(reminder).to_have_count(1)
        # Type, key and offset each in an isolated span: the override ends with the type.
        pieces = reminder.locator(".meta .isolate")
        assert await pieces.all_inner_texts() == ["\u202edeploy", "web", "5m before"]
        isolation = "(element) => getComputedStyle(element).unicodeBidi"
        assert set(await pieces.evaluate_all(f"es => es.map({isolation})")) == {"isolate"}

        toast = page.get_by_test_id("toast").filter(has_text="starts in")
        await expect(toast).to_have_count(1)
        title = toast.locator(".isolate")
        await expect(title).to_have_text("Now \u202efired")
        assert await title.evaluate(isolation) == "isolate"
        await expect(toast).to_contain_text("' starts in")
    assert problems == []


async def test_an_own_edit_answered_after_a_newer_change_does_not_undo_it(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        page = await live_page(browser, daemon.base, problems)
        event = await post(daemon.base, {"type": "job", "title": "first"})
        row = page.get_by_test_id("feed-row")
        await row.filter(has_text="first").click()
        dialog = page.get_by_test_id("feed-dialog")
        await dialog.get_by_label("Title").fill("mine")
        held = Held()
        await page.route(f"**/events/{event['id']}", held.hold)
        await page.get_by_test_id("feed-save").click()
        route, answer = await held.next()  # saved "mine" in the store
        async with (
            aiohttp.ClientSession() as session,
            session.patch(f"{daemon.base}/events/{event['id']}", json={"title": "theirs"}) as patch,
        ):
            assert patch.status == 200, await patch.text()
        await expect(row).to_contain_text("theirs")
        await route.fulfill(response=answer)
        await expect(dialog).to_be_hidden()
        await expect(page.get_by_test_id("feed-status")).to_contain_text("changed again")
        await expect(row).to_contain_text("theirs")
    assert problems == []
