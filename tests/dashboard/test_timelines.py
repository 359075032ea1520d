"""The Timelines panel in a real Chromium against a real `eventd serve` (status indexed)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect

from tests.daemon import Daemon
from tests.dashboard.page import BROWSER_TESTS, open_page, post

pytestmark = BROWSER_TESTS

INDEXED = {"EVENTD_TIMELINES_INDEXED_FIELDS": "status"}


CHART_FITS = """() => {
  const panel = document.getElementById("timelines-panel").getBoundingClientRect();
  const chart = document.querySelector("#timeline-chart canvas").getBoundingClientRect();
  return panel.right <= innerWidth && chart.right <= panel.right && chart.width > 150;
}"""


def ago(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


async def open_view(
    browser: Browser, url: str, problems: list[str], size: tuple[int, int] = (1280, 720)
) -> Page:
    """Open a link to a view of the dashboard, collecting console errors and exceptions."""
    page = await browser.new_page(viewport={"width": size[0], "height": size[1]})

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto(url)
    return page


async def show_key(page: Page, field: str, key: str) -> None:
    """Pick the field and the key in the panel's inputs, as a person does."""
    await page.get_by_test_id("timeline-field").fill(field)
    await page.get_by_test_id("timeline-field").dispatch_event("change")
    await page.get_by_test_id("timeline-key").fill(key)
    await page.get_by_test_id("timeline-key").dispatch_event("change")


async def test_the_timeline_of_a_key_shows_its_points_and_follows_new_ones(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory", **INDEXED) as daemon:
        for minutes, status in [(30, "start"), (20, "wait"), (19, "wait"), (10, "end")]:
            await post(
                daemon.base,
                {"key": "order-1", "timestamp": ago(minutes), "data": {"status": status}},
            )
        await post(
            daemon.base, {"key": "order-2", "timestamp": ago(5), "data": {"status": "other"}}
        )
        page = await open_page(browser, daemon.base, problems)
        await expect(page.get_by_test_id("connection")).to_contain_text("live")
        await show_key(page, "status", "order-1")

        points = page.get_by_test_id("timeline-point")
        await expect(points).to_have_count(3)  # the changes: the second `wait` is none
        assert await points.evaluate_all("ps => ps.map(p => JSON.parse(p.dataset.value))") == [
            "start",
            "wait",
            "end",
        ]
        await expect(points.nth(1)).to_contain_text("wait")
        await expect(page.get_by_test_id("timeline-chart")).to_have_attribute("data-kind", "step")
        await expect(page.get_by_test_id("timeline-chart").locator("canvas")).to_have_count(1)
        await expect(page).to_have_url(re.compile(r"tl_key=order-1"))

        # Live: a new event of the key, and one of another key that must not show.
        await post(daemon.base, {"key": "order-1", "data": {"status": "archived"}})
        await post(daemon.base, {"key": "order-2", "data": {"status": "elsewhere"}})
        await expect(points).to_have_count(4)
        await expect(points.last).to_contain_text("archived")
        await expect(page.get_by_test_id("timeline-points")).not_to_contain_text("elsewhere")

        # Every event, the repeated `wait` included.
        await page.get_by_test_id("timeline-mode").select_option("all")
        await expect(points).to_have_count(5)
    assert problems == []


async def test_numbers_draw_a_line_and_the_url_restores_the_view(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory", **INDEXED) as daemon:
        for minutes, load in [(3, 0.5), (2, 2.25), (1, 1.0)]:
            await post(daemon.base, {"key": "cpu", "timestamp": ago(minutes), "value": load})
        page = await open_view(browser, f"{daemon.base}/?tl_field=value&tl_key=cpu", problems)

        await expect(page.get_by_test_id("timeline-field")).to_have_value("value")
        await expect(page.get_by_test_id("timeline-key")).to_have_value("cpu")
        points = page.get_by_test_id("timeline-point")
        await expect(points).to_have_count(3)
        assert [text.split()[-1] for text in await points.all_inner_texts()] == ["0.5", "2.25", "1"]
        values = await points.evaluate_all("ps => ps.map(p => JSON.parse(p.dataset.value))")
        assert values == [0.5, 2.25, 1.0]
        await expect(page.get_by_test_id("timeline-chart")).to_have_attribute("data-kind", "line")
    assert problems == []


async def test_the_key_follows_the_header_filter_until_one_is_picked(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory", **INDEXED) as daemon:
        await post(daemon.base, {"key": "web", "data": {"status": "up"}})
        page = await open_page(browser, daemon.base, problems)
        await expect(page.get_by_test_id("timeline-status")).to_contain_text("Enter a key")
        await page.get_by_test_id("filter-key").fill("web")
        await page.get_by_test_id("filter-key").dispatch_event("change")
        await expect(page.get_by_test_id("timeline-key")).to_have_value("web")
        await expect(page.get_by_test_id("timeline-point")).to_have_count(1)
        await expect(page.get_by_test_id("timeline-point")).to_contain_text("up")

        await show_key(page, "status", "")  # cleared: it still follows the header's key
        await expect(page.get_by_test_id("timeline-key")).to_have_value("web")
        await show_key(page, "status", "db")
        await expect(page.get_by_test_id("timeline-point")).to_have_count(0)
        await expect(page.get_by_test_id("timeline-status")).to_contain_text("0 points")
        await show_key(page, "status", "")  # cleared: the header's key again
        await expect(page).not_to_have_url(re.compile(r"tl_key"))
        await expect(page.get_by_test_id("timeline-key")).to_have_value("web")
        await expect(page.get_by_test_id("timeline-point")).to_have_count(1)
    assert problems == []


async def test_transitions_show_their_counts_and_update_live(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory", **INDEXED) as daemon:
        for key in ("a", "b"):
            await post(daemon.base, {"key": key, "timestamp": ago(10), "data": {"status": "start"}})
            await post(daemon.base, {"key": key, "timestamp": ago(8), "data": {"status": "wait"}})
        page = await open_page(browser, daemon.base, problems)
        await expect(page.get_by_test_id("connection")).to_contain_text("live")

        pairs = page.get_by_test_id("transition")
        start_wait = pairs.filter(has_text="start").filter(has_text="wait")
        await expect(pairs).to_have_count(1)
        await expect(start_wait).to_have_attribute("data-count", "2")
        await expect(start_wait).to_contain_text("2 min")  # the mean dwell
        await expect(start_wait).to_have_attribute("title", "start → wait: 2, mean dwell 2 min")
        edges = page.get_by_test_id("transition-edge")
        await expect(edges).to_have_count(1)
        await expect(page.locator(".transitions-graph .node")).to_have_count(2)

        await post(daemon.base, {"key": "a", "data": {"status": "end"}})
        await expect(pairs).to_have_count(2)
        wait_end = page.locator('[data-testid="transition"][data-from=\'"wait"\']')
        await expect(wait_end).to_have_attribute("data-count", "1")
        await expect(wait_end).to_contain_text("end")
        await expect(start_wait).to_have_attribute("data-count", "2")
        await expect(edges).to_have_count(2)
        await expect(page.get_by_test_id("transitions-status")).to_contain_text("live")
    assert problems == []


async def test_a_field_that_is_not_indexed_has_its_transitions_read_over_http(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory", **INDEXED) as daemon:
        await post(daemon.base, {"key": "a", "timestamp": ago(3), "data": {"phase": 1}})
        await post(daemon.base, {"key": "a", "timestamp": ago(2), "data": {"phase": 2}})
        page = await open_page(browser, daemon.base, problems)
        await expect(page.get_by_test_id("connection")).to_contain_text("live")
        await show_key(page, "phase", "a")
        pair = page.get_by_test_id("transition")
        await expect(pair).to_have_count(1)
        await expect(pair).to_have_attribute("data-from", json.dumps(1))
        await expect(page.get_by_test_id("transitions-status")).to_contain_text("read over HTTP")
        await expect(page.get_by_test_id("transitions-status")).to_contain_text("not indexed")
        # Read again over HTTP as events change.
        await post(daemon.base, {"key": "a", "data": {"phase": 3}})
        await expect(pair).to_have_count(2)
        await expect(page.get_by_test_id("timeline-point")).to_have_count(3)
    assert problems == []


@pytest.mark.parametrize(("width", "height"), [(1280, 720), (390, 844)])
async def test_the_panel_fits_the_screen(
    browser: Browser, tmp_path: Path, width: int, height: int
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory", **INDEXED) as daemon:
        for minutes, status in [(9, "start"), (6, "wait"), (2, "end")]:
            await post(
                daemon.base, {"key": "o", "timestamp": ago(minutes), "data": {"status": status}}
            )
        page = await open_view(browser, f"{daemon.base}/?tl_key=o", problems, (width, height))
        await expect(page.get_by_test_id("timeline-point")).to_have_count(3)
        await expect(page.get_by_test_id("transition")).to_have_count(2)
        # The chart follows its box's width as the page's scrollbar comes: wait for it.
        await page.wait_for_function(CHART_FITS, timeout=5000)
        assert await page.evaluate("document.documentElement.scrollWidth") <= width
    assert problems == []


LOCAL_INPUT = """iso => {
  const time = new Date(iso);
  return new Date(time - time.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}"""


async def test_a_range_limits_the_timeline_and_the_transitions_and_data_stays_text(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory", **INDEXED) as daemon:
        marked = "<b>bold</b>"
        for minutes, status in [(50, "a"), (40, marked), (30, "c"), (5, "d")]:
            await post(
                daemon.base, {"key": "r", "timestamp": ago(minutes), "data": {"status": status}}
            )
        query = urlencode({"tl_key": "r", "tl_start": ago(45), "tl_end": ago(20)})
        page = await open_view(browser, f"{daemon.base}/?{query}", problems)

        points = page.get_by_test_id("timeline-point")
        await expect(points).to_have_count(2)  # `a` came before the range: it is no change in it
        await expect(points.first).to_contain_text(marked)
        await expect(page.locator("#timeline-points b")).to_have_count(0)
        pairs = page.get_by_test_id("transition")
        await expect(pairs).to_have_count(2)
        await expect(pairs.filter(has_text=marked)).to_have_count(2)
        await expect(page.locator("#timelines-panel b")).to_have_count(0)
        await expect(page.get_by_test_id("transitions-status")).to_contain_text("in the range")
        await expect(page.get_by_test_id("timeline-start")).not_to_have_value("")

        later = await page.evaluate(LOCAL_INPUT, ago(-1))
        await page.get_by_test_id("timeline-end").fill(later)
        await page.get_by_test_id("timeline-end").dispatch_event("change")
        await expect(points).to_have_count(3)
        await expect(points.last).to_contain_text("d")
        await expect(pairs).to_have_count(3)
        await expect(page).to_have_url(re.compile(r"tl_end="))
        # A fixed range is read over HTTP, and again as events change.
        await post(daemon.base, {"key": "r", "data": {"status": "e"}})
        await expect(pairs).to_have_count(4)
        await expect(points).to_have_count(4)
    assert problems == []


async def test_a_restarted_memory_daemon_shows_its_own_timeline_and_transitions(
    browser: Browser, tmp_path: Path
) -> None:
    # Its store starts empty: what the page showed is gone, and new events show.
    problems: list[str] = []
    daemon = Daemon(tmp_path, "--engine", "memory", **INDEXED)
    async with daemon:
        for minutes, status in [(3, "start"), (2, "wait")]:
            await post(
                daemon.base, {"key": "o", "timestamp": ago(minutes), "data": {"status": status}}
            )
        page = await open_view(browser, f"{daemon.base}/?tl_key=o", problems)
        points = page.get_by_test_id("timeline-point")
        pairs = page.get_by_test_id("transition")
        await expect(points).to_have_count(2)
        await expect(pairs).to_have_count(1)

        await daemon.stop()
        await expect(page.get_by_test_id("connection")).to_contain_text("reconnecting")
        await daemon.start()
        await expect(page.get_by_test_id("connection")).to_contain_text("live")
        await expect(points).to_have_count(0)
        await expect(pairs).to_have_count(0)
        await post(daemon.base, {"key": "o", "timestamp": ago(1), "data": {"status": "again"}})
        await post(daemon.base, {"key": "o", "data": {"status": "done"}})
        await expect(points).to_have_count(2)
        await expect(pairs.filter(has_text="again")).to_have_count(1)
