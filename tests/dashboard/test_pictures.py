"""The whole dashboard with data in every panel: fits a phone's width, and pictures of it.

The screenshots of docs/ are made by this test:
`EVENTD_SCREENSHOTS=docs .venv/bin/pytest tests/dashboard/test_pictures.py`. Without that
variable they go to the test's temporary folder.
"""

from __future__ import annotations

import os
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.daemon import Daemon
from tests.dashboard.page import BROWSER_TESTS, open_page, post

pytestmark = BROWSER_TESTS

ORDERS = [
    ("order-1", "new", 12.5),
    ("order-2", "new", 40.0),
    ("order-1", "paid", 12.5),
    ("order-3", "new", 7.25),
    ("order-2", "paid", 40.0),
    ("order-1", "shipped", 12.5),
    ("order-3", "cancelled", 7.25),
    ("order-2", "shipped", 40.0),
]
# (name, colour scheme, viewport): the pictures docs/ shows.
PICTURES = [
    ("dashboard-light.png", "light", {"width": 1280, "height": 720}),
    ("dashboard-dark.png", "dark", {"width": 1280, "height": 720}),
    ("dashboard-phone.png", "dark", {"width": 390, "height": 844}),
]


async def fill(base: str) -> None:
    """Give every panel something to show: orders moving through states, a meeting ahead."""
    for key, status, value in ORDERS:
        title = f"{key} {status}"
        await post(base, {"type": "order", "key": key, "title": title, "value": value,
                          "data": {"status": status}})  # fmt: skip
    starts = datetime.now(UTC) + timedelta(minutes=25)
    await post(base, {"type": "meeting", "key": "ops", "title": "Weekly review",
                      "timestamp": starts.isoformat()})  # fmt: skip


async def shown_in_full(page: Page, count: int) -> None:
    """Wait until every panel shows the data of `fill` and the live events after it."""
    await expect(page.get_by_test_id("connection")).to_contain_text("live")
    await expect(page.get_by_test_id("feed-row")).to_have_count(3)
    tile = page.locator('[data-testid="stats-window"][data-window="5m"]')
    await expect(tile.locator('[data-field="count"]')).to_have_text(str(count))
    await expect(page.get_by_test_id("reminder")).to_have_count(1)
    await expect(page.get_by_test_id("timeline-point")).to_have_count(3)
    await expect(page.get_by_test_id("transition")).to_have_count(3)  # paid, shipped, cancelled
    await expect(page.get_by_test_id("health")).to_have_attribute("data-state", "ok")


def png_size(path: Path) -> tuple[int, int]:
    """Return a PNG's width and height, read from its header."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", path
    width, height = struct.unpack(">II", header[16:24])
    return width, height


async def test_every_panel_fits_and_is_pictured(browser: Browser, tmp_path: Path) -> None:
    folder = Path(os.environ.get("EVENTD_SCREENSHOTS", tmp_path))
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        await fill(daemon.base)
        shown = len(ORDERS)  # events in the 5m window: the orders, not the meeting ahead
        for name, scheme, viewport in PICTURES:
            page = await open_page(
                browser, daemon.base, problems, path="/?tl_key=order-1",
                viewport=viewport, color_scheme=scheme,
            )  # fmt: skip
            await expect(page.get_by_test_id("connection")).to_contain_text("live")
            for n in range(3):
                await post(daemon.base, {"type": "load", "key": "web", "title": f"request {n}",
                                         "value": 20 + 15 * n})  # fmt: skip
            shown += 3
            await shown_in_full(page, shown)
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, (name, overflow)  # no sideways scrolling at this width
            await page.screenshot(path=folder / name, full_page=True)
            width, _ = png_size(folder / name)
            assert width == viewport["width"], name
            await page.close()
    assert problems == []
