"""The dashboard's token prompt, in a real Chromium against a real `eventd serve` that has a
token and grants nothing without one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
from playwright.async_api import Browser, Page, expect

from eventd.config import digest
from tests.daemon import Daemon
from tests.dashboard.page import BROWSER_TESTS, open_page

pytestmark = BROWSER_TESTS

READER = "reader-secret-for-the-dashboard"
WRITER = "writer-secret-for-the-test"
# Chromium logs each answer 401 in the console as a failed resource: that answer is what
# makes the page ask for a token, not a fault of the page.
EXPECTED_401 = "the server responded with a status of 401"


def locked_daemon(tmp_path: Path) -> Daemon:
    config = tmp_path / "eventd.toml"
    config.write_text(
        "[auth]\nanonymous = []\n"
        f'[[auth.tokens]]\nname = "dashboard"\nsha256 = "{digest(READER)}"\nscopes = ["read"]\n'
        f'[[auth.tokens]]\nname = "writer"\nsha256 = "{digest(WRITER)}"\nscopes = ["write"]\n'
    )
    return Daemon(tmp_path, "--config", str(config), "--engine", "memory")


async def post(base: str, event: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {WRITER}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}/events", json=event, headers=headers) as response,
    ):
        assert response.status == 201, await response.text()


async def enter_token(page: Page, token: str) -> None:
    prompt = page.get_by_test_id("token-prompt")
    await expect(prompt).to_be_visible()
    await page.get_by_test_id("token-input").fill(token)
    await page.get_by_test_id("token-input").press("Enter")


def real_problems(problems: list[str]) -> list[str]:
    return [problem for problem in problems if EXPECTED_401 not in problem]


async def test_the_page_asks_for_a_token_once_and_goes_live(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with locked_daemon(tmp_path) as daemon:
        page = await open_page(browser, daemon.base, problems)
        connection = page.get_by_test_id("connection")
        await enter_token(page, READER)
        await expect(page.get_by_test_id("token-prompt")).to_be_hidden()
        await expect(connection).to_contain_text("live")

        await post(daemon.base, {"type": "deploy", "key": "web", "title": "behind a token"})
        rows = page.get_by_test_id("feed-row")
        await expect(rows.filter(has_text="behind a token")).to_have_count(1)

        await page.reload()
        await expect(connection).to_contain_text("live")
        await post(daemon.base, {"type": "deploy", "key": "web", "title": "after the reload"})
        await expect(rows.filter(has_text="after the reload")).to_have_count(1)
        await expect(page.get_by_test_id("token-prompt")).to_have_count(0)
    assert real_problems(problems) == []


async def test_api_calls_ask_on_401_and_send_the_token(browser: Browser, tmp_path: Path) -> None:
    problems: list[str] = []
    async with locked_daemon(tmp_path) as daemon:
        await post(daemon.base, {"type": "deploy", "title": "listed"})
        page = await open_page(browser, daemon.base, problems)
        # A stale token first: refused, forgotten, then asked for (one prompt for every caller).
        await page.evaluate("localStorage.setItem('eventd.token', 'stale')")
        # Not awaited here (an evaluated promise would be): it waits for the token.
        await page.evaluate(
            "() => { window.listing = import('/dashboard/api.js').then((m) => m.api('/events')); }"
        )
        await enter_token(page, READER)
        titles = await page.evaluate("window.listing.then((r) => r.events.map((e) => e.title))")
        assert titles == ["listed"]
        await expect(page.get_by_test_id("connection")).to_contain_text("live")
        await expect(page.get_by_test_id("token-prompt")).to_be_hidden()
    assert real_problems(problems) == []


async def test_a_wrong_token_asks_again(browser: Browser, tmp_path: Path) -> None:
    problems: list[str] = []
    async with locked_daemon(tmp_path) as daemon:
        page = await open_page(browser, daemon.base, problems)
        await enter_token(page, "not the token")
        prompt = page.get_by_test_id("token-prompt")
        await expect(prompt).to_contain_text("refused")
        await enter_token(page, READER)
        await expect(page.get_by_test_id("connection")).to_contain_text("live")
        await expect(prompt).to_be_hidden()
        assert await page.evaluate("localStorage.getItem('eventd.token')") == READER
    assert real_problems(problems) == []


async def test_the_prompt_fits_a_phone(browser: Browser, tmp_path: Path) -> None:
    async with locked_daemon(tmp_path) as daemon:
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        await page.goto(f"{daemon.base}/")
        prompt = page.get_by_test_id("token-prompt")
        await expect(prompt).to_be_visible()
        box = await prompt.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        await page.screenshot(path=str(tmp_path / "phone.png"))
        await enter_token(page, READER)
        await expect(page.get_by_test_id("connection")).to_contain_text("live")
