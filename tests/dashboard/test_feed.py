"""The Live feed panel in a real Chromium against a real `eventd serve`: edit, delete,
create, data on expand, pause, paging over HTTP and the URL's filters."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, Page, expect

from tests.daemon import Daemon
from tests.dashboard.page import BROWSER_TESTS, live_page, post

pytestmark = BROWSER_TESTS


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        yield daemon


async def get(base: str, path: str, **params: Any) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(base + path, params=params) as answer,
    ):
        return answer.status, await answer.json()


async def post_many(base: str, events: list[dict[str, Any]]) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}/events", json=events) as answer,
    ):
        assert answer.status == 201, await answer.text()


def refused(status: int, reason: str) -> str:
    """Return the console line Chromium logs for an HTTP answer with `status`."""
    return f"Failed to load resource: the server responded with a status of {status} ({reason})"


async def test_an_edit_and_a_delete_from_the_page_reach_the_store(
    browser: Browser, daemon: Daemon
) -> None:
    problems: list[str] = []
    page = await live_page(browser, daemon.base, problems)
    event = await post(daemon.base, {"type": "deploy", "key": "web", "title": "v1", "value": 1})
    await page.get_by_test_id("feed-row").filter(has_text="v1").click()
    dialog = page.get_by_test_id("feed-dialog")
    await expect(dialog).to_be_visible()
    await expect(page.get_by_test_id("feed-dialog-id")).to_have_text(event["id"])

    await dialog.get_by_label("Title").fill("v2")
    await dialog.get_by_label("Value").fill("2.5")
    await dialog.get_by_label("Key").fill("api")
    await dialog.get_by_label("Data (JSON)").fill('{"sha": "abc"}')
    await page.get_by_test_id("feed-save").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("feed-row").filter(has_text="v2")).to_contain_text("api")
    status, stored = await get(daemon.base, f"/events/{event['id']}")
    assert status == 200
    assert (stored["title"], stored["value"], stored["key"]) == ("v2", 2.5, "api")
    assert (stored["type"], stored["data"]) == ("deploy", {"sha": "abc"})

    await page.get_by_test_id("feed-row").filter(has_text="v2").click()
    await page.get_by_test_id("feed-delete").click()
    await page.get_by_test_id("feed-delete").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("feed-row")).to_have_count(0)
    status, _ = await get(daemon.base, f"/events/{event['id']}")
    assert status == 404
    assert problems == []


async def test_api_errors_are_shown_in_the_dialog_naming_the_field(
    browser: Browser, daemon: Daemon
) -> None:
    problems: list[str] = []
    page = await live_page(browser, daemon.base, problems)
    event = await post(daemon.base, {"type": "job", "title": "kept", "value": 1})
    await page.get_by_test_id("feed-row").filter(has_text="kept").click()
    dialog = page.get_by_test_id("feed-dialog")
    error = page.get_by_test_id("feed-dialog-error")

    await dialog.get_by_label("Value").fill("lots")
    await page.get_by_test_id("feed-save").click()
    # Said by the page before asking: not the API's "expected `float | null`, got `str`".
    await expect(error).to_have_text("value: must be a number, such as 3 or -0.5")
    await expect(dialog.get_by_label("Value")).to_have_attribute("aria-invalid", "true")
    await expect(dialog).to_be_visible()

    await dialog.get_by_label("Value").fill("1")
    await dialog.get_by_label("Data (JSON)").fill("{not json")
    await page.get_by_test_id("feed-save").click()
    await expect(error).to_contain_text("data: is not JSON")

    # Deleted elsewhere meanwhile: the open dialog says so, and Save is off.
    async with aiohttp.ClientSession() as session:
        await session.delete(f"{daemon.base}/events/{event['id']}")
    await expect(error).to_have_text("This event has been deleted elsewhere.")
    await expect(page.get_by_test_id("feed-save")).to_be_disabled()
    await expect(page.get_by_test_id("feed-row")).to_have_count(0)
    # Delete answers 404: what was asked for is done, and the dialog closes.
    await page.get_by_test_id("feed-delete").click()
    await page.get_by_test_id("feed-delete").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("feed-status")).to_contain_text("deleted elsewhere")
    _, stored = await get(daemon.base, "/events")
    assert stored["events"] == []
    # Chromium logs every 4xx answer; this is the one the test asked for, and nothing else.
    assert problems == [refused(404, "Not Found")]


async def test_the_form_creates_an_event(browser: Browser, daemon: Daemon) -> None:
    problems: list[str] = []
    page = await live_page(browser, daemon.base, problems)
    await page.get_by_text("New event").click()
    form = page.get_by_test_id("feed-create")
    await form.get_by_label("Type").fill("deploy")
    await form.get_by_label("Key").fill("web")
    await form.get_by_label("Title").fill("made in the page")
    await form.get_by_label("Value").fill("7")
    await form.get_by_label("Timestamp").fill("2025-01-01T12:00:00Z")
    await form.get_by_label("Data (JSON)").fill('{"by": "form"}')
    await page.get_by_test_id("feed-create-submit").click()

    row = page.get_by_test_id("feed-row").filter(has_text="made in the page")
    await expect(row).to_contain_text("deploy")
    await expect(row).to_contain_text("web")
    _, listing = await get(daemon.base, "/events")
    [stored] = listing["events"]
    assert (stored["type"], stored["key"], stored["value"]) == ("deploy", "web", 7)
    assert (stored["timestamp"], stored["data"]) == ("2025-01-01T12:00:00.000000Z", {"by": "form"})

    # A value that is no number is refused by the form itself, in its own words.
    for typed in ("NaN", "abc"):
        await form.get_by_label("Value").fill(typed)
        await page.get_by_test_id("feed-create-submit").click()
        await expect(page.get_by_test_id("feed-create-error")).to_have_text(
            "value: must be a number, such as 3 or -0.5"
        )
    _, listing = await get(daemon.base, "/events")
    assert len(listing["events"]) == 1
    assert problems == []  # nothing was sent


async def test_a_row_shows_its_data_on_expand_as_text(browser: Browser, daemon: Daemon) -> None:
    problems: list[str] = []
    page = await live_page(browser, daemon.base, problems)
    data = {"html": "<img src=x onerror=alert(1)>", "n": [1, 2]}
    await post(daemon.base, {"type": "t", "title": "with data", "data": data})
    row = page.get_by_test_id("feed-row").filter(has_text="with data")
    await row.get_by_test_id("feed-expand").click()
    shown = page.get_by_test_id("feed-data")
    await expect(shown).to_have_text(json.dumps(data, indent=2))
    assert await page.locator("[data-testid=feed-data] img").count() == 0
    await expect(page.get_by_test_id("feed-dialog")).to_be_hidden()  # expanding is not opening

    await row.get_by_test_id("feed-expand").click()
    await expect(shown).to_have_count(0)
    assert problems == []


async def test_pause_holds_the_changes_and_resume_shows_them(
    browser: Browser, daemon: Daemon
) -> None:
    problems: list[str] = []
    page = await live_page(browser, daemon.base, problems)
    rows = page.get_by_test_id("feed-row")
    await post(daemon.base, {"type": "t", "title": "before pause"})
    await expect(rows).to_have_count(1)

    pause = page.get_by_test_id("feed-pause")
    await pause.click()
    await expect(page.get_by_test_id("feed-mode")).to_have_text("paused")
    for n in range(3):
        await post(daemon.base, {"type": "t", "title": f"held {n}"})
    # The changes have reached the page (it counts them) and are not shown yet.
    await expect(pause).to_contain_text("3 held")
    await expect(rows).to_have_count(1)
    await expect(rows.filter(has_text="held")).to_have_count(0)

    await pause.click()
    await expect(rows).to_have_count(4)
    await expect(rows.first).to_contain_text("held 2")
    await expect(pause).to_have_text("Pause")
    assert problems == []


async def local_input(page: Page, iso: str) -> str:
    """Return `iso` as a datetime-local value in the browser's own time zone."""
    value: str = await page.evaluate(
        """(iso) => {
            const d = new Date(iso);
            const p = (n) => String(n).padStart(2, "0");
            return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T`
                + `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
        }""",
        iso,
    )
    return value


async def titles(page: Page) -> list[str]:
    texts = await page.get_by_test_id("feed-row").all_inner_texts()
    return [text.split("\t")[3] for text in texts]


async def test_history_pages_older_and_newer_within_the_time_range(
    browser: Browser, daemon: Daemon
) -> None:
    problems: list[str] = []
    page = await live_page(browser, daemon.base, problems)
    events = [
        {"type": "p", "title": f"e{n:02}", "timestamp": f"2025-03-01T10:{n:02}:00Z"}
        for n in range(25)
    ]
    outside = [
        {"type": "p", "title": "too early", "timestamp": "2025-03-01T09:59:59Z"},
        {"type": "p", "title": "too late", "timestamp": "2025-03-01T10:24:01Z"},
    ]
    await post_many(daemon.base, [*outside, *events])
    await expect(page.get_by_test_id("feed-row")).to_have_count(27)

    await page.get_by_test_id("feed-page-size").fill("10")
    await page.get_by_test_id("feed-start").fill(await local_input(page, "2025-03-01T10:00:00Z"))
    await page.get_by_test_id("feed-end").fill(await local_input(page, "2025-03-01T10:24:00Z"))
    await page.get_by_test_id("feed-history").click()
    await expect(page.get_by_test_id("feed-mode")).to_have_text("history")

    pages = {
        "first": [f"e{n:02}" for n in range(24, 14, -1)],
        "second": [f"e{n:02}" for n in range(14, 4, -1)],
        "last": [f"e{n:02}" for n in range(4, -1, -1)],
    }
    older, newer = page.get_by_test_id("feed-older"), page.get_by_test_id("feed-newer")
    for name, button in [("first", None), ("second", older), ("last", older)]:
        if button is not None:
            await button.click()
        await expect(page.get_by_test_id("feed-row").first).to_contain_text(pages[name][0])
        await expect(page.get_by_test_id("feed-row")).to_have_count(len(pages[name]))
        assert await titles(page) == pages[name]
    await expect(older).to_be_disabled()
    for name in ("second", "first"):
        await newer.click()
        await expect(page.get_by_test_id("feed-row").first).to_contain_text(pages[name][0])
        assert await titles(page) == pages[name]

    await page.get_by_test_id("feed-live").click()
    await expect(page.get_by_test_id("feed-mode")).to_have_text("live")
    await expect(page.get_by_test_id("feed-row").filter(has_text="too late")).to_have_count(1)
    assert problems == []


async def test_a_type_filter_in_the_url_shows_only_its_events_and_survives_a_reload(
    browser: Browser, daemon: Daemon
) -> None:
    problems: list[str] = []
    page = await live_page(browser, daemon.base, problems, path="/?type=deploy")
    rows = page.get_by_test_id("feed-row")
    await expect(page.get_by_test_id("filter-type")).to_have_value("deploy")
    await post(daemon.base, {"type": "build", "title": "not shown 1"})
    await post(daemon.base, {"type": "deploy", "title": "shown 1"})
    await expect(rows.first).to_contain_text("shown 1")
    await expect(rows).to_have_count(1)

    await page.reload()
    await expect(page.get_by_test_id("connection")).to_contain_text("live")
    assert page.url.endswith("/?type=deploy")
    await expect(page.get_by_test_id("filter-type")).to_have_value("deploy")
    await post(daemon.base, {"type": "build", "title": "not shown 2"})
    await post(daemon.base, {"type": "deploy", "title": "shown 2"})
    await expect(rows.first).to_contain_text("shown 2")
    await expect(rows).to_have_count(1)

    # The history view asks GET /events with the same filter.
    await page.get_by_test_id("feed-history").click()
    await expect(rows).to_have_count(2)
    assert await titles(page) == ["shown 2", "shown 1"]
    assert problems == []


async def test_the_panel_fits_a_phone_width_screen(browser: Browser, daemon: Daemon) -> None:
    problems: list[str] = []
    page = await live_page(browser, daemon.base, problems)
    await page.set_viewport_size({"width": 390, "height": 844})
    await post(daemon.base, {"type": "deploy", "key": "web", "title": "on a phone"})
    await expect(page.get_by_test_id("feed-row")).to_contain_text("on a phone")
    await expect(page.get_by_test_id("feed-pause")).to_be_in_viewport()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    assert problems == []


async def test_only_the_rows_in_view_are_in_the_dom(browser: Browser, daemon: Daemon) -> None:
    problems: list[str] = []
    page = await live_page(browser, daemon.base, problems)
    await post_many(daemon.base, [{"type": "v", "title": f"row {n}"} for n in range(500)])
    rows = page.get_by_test_id("feed-row")
    await expect(rows.first).to_contain_text("row 499")
    assert 10 < await rows.count() < 100

    # Scrolled to the end, the oldest row kept (of 200) is drawn and the newest are not.
    await page.locator(".feed-scroll").evaluate("(scroller) => { scroller.scrollTop = 1e9; }")
    await expect(rows.last).to_contain_text("row 300")
    await expect(rows.filter(has_text="row 499")).to_have_count(0)
    assert problems == []


TOP_ROW = """(scroller) => {
    const box = scroller.getBoundingClientRect();
    const head = scroller.querySelector("thead").offsetHeight;
    const cell = document.elementFromPoint(box.left + 40, box.top + head + 4);
    return cell.closest("tr").cells[3].textContent;
}"""


async def test_new_rows_do_not_push_a_scrolled_view_down(browser: Browser, daemon: Daemon) -> None:
    problems: list[str] = []
    page = await live_page(browser, daemon.base, problems)
    await post_many(daemon.base, [{"type": "v", "title": f"row {n}"} for n in range(100)])
    rows = page.get_by_test_id("feed-row")
    await expect(rows.first).to_contain_text("row 99")
    scroller = page.locator(".feed-scroll")
    await scroller.evaluate("(scroller) => { scroller.scrollTop = 1000; }")
    await expect(rows.filter(has_text="row 99")).to_have_count(0)  # drawn for the new view
    reading = await scroller.evaluate(TOP_ROW)
    height = await scroller.evaluate("(scroller) => scroller.scrollHeight")

    await post_many(daemon.base, [{"type": "v", "title": f"new {n}"} for n in range(5)])
    await page.wait_for_function(
        "(height) => document.querySelector('.feed-scroll').scrollHeight > height", arg=height
    )
    assert await scroller.evaluate(TOP_ROW) == reading
    await scroller.evaluate("(scroller) => { scroller.scrollTop = 0; }")
    await expect(rows.first).to_contain_text("new 4")
    assert problems == []
