"""What every browser test of the dashboard shares: Debian's Chromium, and a page on a daemon."""

from __future__ import annotations

import shutil
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, expect

CHROMIUM = "/usr/bin/chromium"
# Never Playwright's own browsers, nothing from the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# The marks of every browser test module: slow, and skipped where Chromium is missing.
BROWSER_TESTS = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="scripts/test installs chromium"),
]


async def open_page(
    browser: Browser, base: str, problems: list[str], *, path: str = "/", **options: Any
) -> Page:
    """Open the dashboard (1280x720 unless `options` say), collecting console errors and
    uncaught exceptions in `problems`."""
    options.setdefault("viewport", {"width": 1280, "height": 720})
    page = await browser.new_page(**options)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.goto(f"{base}{path}")
    return page


async def post(base: str, event: dict[str, Any]) -> dict[str, Any]:
    """Create an event over HTTP; return it as stored."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{base}/events", json=event) as response,
    ):
        assert response.status == 201, await response.text()
        created: dict[str, Any] = await response.json()
        return created


async def live_page(
    browser: Browser, base: str, problems: list[str], *, path: str = "/", **options: Any
) -> Page:
    """Open the dashboard as `open_page` does and wait until its connection is live."""
    page = await open_page(browser, base, problems, path=path, **options)
    await expect(page.get_by_test_id("connection")).to_contain_text("live")
    return page
