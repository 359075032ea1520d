"""Numbers a double cannot hold go through the page's forms exactly as stored or typed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from tests.daemon import Daemon
from tests.dashboard.page import BROWSER_TESTS, open_page

pytestmark = BROWSER_TESTS

BIG = "12345678901234567890"  # more than a double's 53 bits hold


@pytest.fixture
async def daemon(tmp_path: Path) -> AsyncIterator[Daemon]:
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        yield daemon


async def raw(method: str, url: str, body: str | None = None) -> tuple[int, str]:
    """Send `body` as JSON text; return the status and the answer's text, unparsed."""
    headers = {"Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, data=body, headers=headers) as answer,
    ):
        return answer.status, await answer.text()


async def test_an_edit_from_the_page_keeps_a_big_integer_in_data(
    browser: Browser, daemon: Daemon
) -> None:
    problems: list[str] = []
    page = await open_page(browser, daemon.base, problems)
    await expect(page.get_by_test_id("connection")).to_contain_text("live")
    body = f'{{"type": "job", "title": "before", "data": {{"y": {BIG}}}}}'
    status, created = await raw("POST", f"{daemon.base}/events", body)
    assert status == 201 and f'"y":{BIG}' in created

    await page.get_by_test_id("feed-row").filter(has_text="before").click()
    dialog = page.get_by_test_id("feed-dialog")
    data = dialog.get_by_label("Data (JSON)")
    await expect(data).to_have_value(f'{{\n  "y": {BIG}\n}}')  # as stored, not rounded
    await dialog.get_by_label("Title").fill("after")
    # Another member changed too, so that the page sends `data` back.
    await data.fill(f'{{"y": {BIG}, "z": 1}}')
    await page.get_by_test_id("feed-save").click()
    await expect(dialog).to_be_hidden()
    await expect(page.get_by_test_id("feed-row").filter(has_text="after")).to_have_count(1)

    status, listing = await raw("GET", f"{daemon.base}/events")
    assert status == 200
    assert f'"data":{{"y":{BIG},"z":1}}' in listing
    assert '"title":"after"' in listing
    # And the row's data, expanded, shows it as stored.
    row = page.get_by_test_id("feed-row").filter(has_text="after")
    await row.get_by_test_id("feed-expand").click()
    await expect(page.get_by_test_id("feed-data")).to_contain_text(BIG)
    assert problems == []


async def test_a_number_out_of_range_typed_in_the_form_is_refused_by_the_api(
    browser: Browser, daemon: Daemon
) -> None:
    problems: list[str] = []
    page = await open_page(browser, daemon.base, problems)
    await expect(page.get_by_test_id("connection")).to_contain_text("live")
    await page.get_by_text("New event").click()
    form = page.get_by_test_id("feed-create")
    await form.get_by_label("Title").fill("huge")
    await form.get_by_label("Data (JSON)").fill('{"x": 1e400}')
    await page.get_by_test_id("feed-create-submit").click()
    error = page.get_by_test_id("feed-create-error")
    await expect(error).to_contain_text("data")
    await expect(form.get_by_label("Data (JSON)")).to_have_attribute("aria-invalid", "true")
    status, listing = await raw("GET", f"{daemon.base}/events")
    assert status == 200 and '"events":[]' in listing  # not stored with a null
    msg = "Failed to load resource: the server responded with a status of 422"
    assert [problem[: len(msg)] for problem in problems] == [msg]
