"""The Statistics and Health panels in a real Chromium against a real `eventd serve`."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Literal

import aiohttp
from playwright.async_api import Browser, Locator, Page, Route, ViewportSize, expect

from tests.daemon import Daemon
from tests.dashboard.page import BROWSER_TESTS, live_page, post

WINDOWS = ["5m", "15m", "1h", "1d"]
# A 5m chart reaches back 1h in steps of 1m, when the daemon still holds that far back.
BACKFILLED_5M = 61
# What Chromium logs by itself for an answer that is not 2xx, or none.
RESOURCE_FAILURE = re.compile(r"^Failed to load resource")

pytestmark = BROWSER_TESTS


def tile(page: Page, window: str) -> Locator:
    return page.locator(f'[data-testid="stats-window"][data-window="{window}"]')


def figure(page: Page, window: str, name: str) -> Locator:
    return tile(page, window).locator(f'[data-field="{name}"]')


async def health(base: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as session, session.get(f"{base}/health") as response:
        assert response.status == 200, await response.text()
        body: dict[str, Any] = await response.json()
        return body


async def test_a_window_count_changes_after_a_post_with_a_value(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        page = await live_page(browser, daemon.base, problems)
        tiles = page.get_by_test_id("stats-window")
        await expect(tiles).to_have_count(len(WINDOWS))
        assert [await t.get_attribute("data-window") for t in await tiles.all()] == WINDOWS
        await expect(figure(page, "5m", "count")).to_have_text("0")

        await post(daemon.base, {"type": "load", "value": 4})
        await post(daemon.base, {"type": "load", "value": 8})

        await expect(tile(page, "5m")).to_contain_text("2")
        for window in WINDOWS:
            await expect(figure(page, window, "count")).to_have_text("2")
        await expect(figure(page, "5m", "mean")).to_have_text("6")
        await expect(figure(page, "5m", "min")).to_have_text("4")
        await expect(figure(page, "5m", "max")).to_have_text("8")
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{daemon.base}/stats?window=5m") as response,
        ):
            figures = await response.json()
        for name in ("p50", "p90", "p99"):  # whole numbers: shown as the daemon answers them
            await expect(figure(page, "5m", name)).to_have_text(f"{figures[name]:g}")
    assert problems == []


async def test_the_charts_are_backfilled_from_the_history(browser: Browser, tmp_path: Path) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        # By event time: in the 5m window twenty minutes ago, in none of its 5m now.
        await post(daemon.base, {"type": "load", "value": 3, "timestamp": time.time() - 1200})
        page = await live_page(browser, daemon.base, problems)
        await expect(figure(page, "5m", "count")).to_have_text("0")
        await expect(figure(page, "1h", "count")).to_have_text("1")

        chart = tile(page, "5m").get_by_test_id("stats-chart")
        await expect(chart).to_have_attribute("data-peak", "1")
        assert int(await chart.get_attribute("data-points") or 0) >= BACKFILLED_5M
        await expect(chart.locator("canvas")).to_have_count(1)
        # The daemon keeps no 1d history before now: that chart begins with the page.
        await expect(tile(page, "1d").get_by_test_id("stats-chart")).to_have_attribute(
            "data-points", "1"
        )

        await post(daemon.base, {"type": "load", "value": 5})
        await expect(figure(page, "5m", "count")).to_have_text("1")
        await expect(chart).to_have_attribute("data-peak", "1")
        points = int(await chart.get_attribute("data-points") or 0)
        assert BACKFILLED_5M <= points <= BACKFILLED_5M + 2  # extended, and bounded
    assert problems == []


async def test_the_type_selector_changes_what_the_tiles_count(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        for event in ({"type": "deploy", "value": 1}, {"type": "build", "value": 100}):
            await post(daemon.base, event)
        page = await live_page(browser, daemon.base, problems)
        await expect(figure(page, "5m", "count")).to_have_text("2")

        selector = page.get_by_test_id("stats-type")
        await selector.fill("deploy")
        await selector.dispatch_event("change")
        await expect(tile(page, "5m")).to_have_attribute("data-type", "deploy")
        await expect(figure(page, "5m", "count")).to_have_text("1")
        await expect(figure(page, "5m", "mean")).to_have_text("1")
        await expect(page).to_have_url(re.compile(r"stats_type=deploy"))
        chart = tile(page, "5m").get_by_test_id("stats-chart")
        await expect(chart).to_have_attribute("data-peak", "1")  # backfilled for deploy only
        assert int(await chart.get_attribute("data-points") or 0) >= BACKFILLED_5M

        await post(daemon.base, {"type": "build", "value": 100})
        await post(daemon.base, {"type": "deploy", "value": 5})
        # With the builds counted the mean would never be 3.
        await expect(figure(page, "5m", "mean")).to_have_text("3")
        await expect(figure(page, "5m", "count")).to_have_text("2")

        await selector.fill("")
        await selector.dispatch_event("change")
        await expect(tile(page, "5m")).to_have_attribute("data-type", "")
        await expect(figure(page, "5m", "count")).to_have_text("4")
        await expect(chart).to_have_attribute("data-peak", "4")
    assert problems == []


async def test_the_type_comes_from_the_url_and_the_selector_suggests_types(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        for event in ({"type": "deploy", "value": 1}, {"type": "build", "value": 2}):
            await post(daemon.base, event)
        page = await browser.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        await page.goto(f"{daemon.base}/?stats_type=build")
        selector = page.get_by_test_id("stats-type")
        await expect(selector).to_have_value("build")
        await expect(tile(page, "5m")).to_have_attribute("data-type", "build")
        await expect(figure(page, "5m", "mean")).to_have_text("2")

        await selector.focus()
        options = page.locator("#stats-types option")
        await expect(options).to_have_count(2)
        assert [await o.get_attribute("value") for o in await options.all()] == ["build", "deploy"]
    assert problems == []


async def test_health_shows_the_engine_and_the_feed_position_moving(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        page = await live_page(browser, daemon.base, problems)
        panel = page.get_by_test_id("health")
        await expect(panel).to_have_attribute("data-state", "ok")
        await expect(panel.locator('[data-field="engine"]')).to_have_text("memory")
        await expect(panel.locator('[data-field="status"]')).to_have_text("ok")
        # The page's own socket: one connection with its feed and stats subscriptions.
        subscribers = panel.locator('[data-field="subscribers"]')
        await expect(subscribers).to_contain_text("1 connection,", timeout=10_000)
        await expect(subscribers).to_contain_text("stats 1")
        before = (await health(daemon.base))["feed"]["position"]
        position = panel.locator('[data-field="position"]')
        await expect(position).to_have_text(str(before), timeout=10_000)

        await post(daemon.base, {"type": "deploy", "title": "moves the feed"})

        await expect(position).to_have_text(str(before + 1), timeout=10_000)
        version = (await health(daemon.base))["version"]
        await expect(panel.locator('[data-field="version"]')).to_have_text(version)
    assert problems == []


async def test_health_shows_a_503_and_a_daemon_that_does_not_answer(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        page = await live_page(browser, daemon.base, problems)
        panel = page.get_by_test_id("health")
        await expect(panel).to_have_attribute("data-state", "ok")
        body = await health(daemon.base)
        unavailable = body | {
            "status": "unavailable",
            "checks": {"store": "unavailable", "feed": "ok"},
            "errors": {"store": "redis: no answer within 2 s"},
        }

        async def answer_503(route: Route) -> None:
            await route.fulfill(status=503, json=unavailable, headers={"Retry-After": "1"})

        await page.route("**/health", answer_503)
        status = panel.locator('[data-field="status"]')
        await expect(status).to_have_text(
            "unavailable (store: redis: no answer within 2 s)", timeout=10_000
        )
        await expect(panel).to_have_attribute("data-state", "unavailable")

        await page.unroute("**/health")
        await page.route("**/health", lambda route: route.abort("connectionrefused"))
        await expect(panel).to_have_attribute("data-state", "unreachable", timeout=10_000)
        await expect(status).to_contain_text("unreachable")
        await expect(panel.locator('[data-field="engine"]')).to_have_text("memory")  # last known
    assert [p for p in problems if not RESOURCE_FAILURE.match(p)] == []


async def test_the_panels_fit_a_phone_and_a_desktop_screen(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        await post(daemon.base, {"type": "load", "value": 3, "timestamp": time.time() - 600})
        await post(daemon.base, {"type": "load", "value": 7})
        screens: list[tuple[int, int, Literal["light", "dark"]]] = [
            (390, 844, "light"),
            (1280, 720, "dark"),
        ]
        for width, height, scheme in screens:
            viewport: ViewportSize = {"width": width, "height": height}
            page = await browser.new_page(viewport=viewport, color_scheme=scheme)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            await page.goto(f"{daemon.base}/")
            await expect(figure(page, "5m", "count")).to_have_text("1")
            await expect(page.get_by_test_id("health")).to_have_attribute("data-state", "ok")
            for window in WINDOWS:
                chart = tile(page, window).get_by_test_id("stats-chart")
                box = await chart.bounding_box()
                tile_box = await tile(page, window).bounding_box()
                assert box is not None and tile_box is not None
                assert box["width"] > 100
                assert box["x"] + box["width"] <= tile_box["x"] + tile_box["width"] + 1
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"{width}px: scrolls sideways by {overflow}px"
            await page.screenshot(path=str(tmp_path / f"stats-{width}.png"), full_page=True)
            if scheme == "dark":  # the charts follow a change of theme
                await page.emulate_media(color_scheme="light")
                await expect(tile(page, "5m").locator("canvas")).to_have_count(1)
                await page.screenshot(path=str(tmp_path / "stats-light.png"))
    assert problems == []


async def test_a_chart_holds_a_bounded_number_of_points(browser: Browser, tmp_path: Path) -> None:
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        page = await live_page(browser, daemon.base, problems)
        # A day of pushes, one a second, into a chart of an hour in steps of a minute; then
        # as many into one whose span and step would hold them all.
        held = await page.evaluate(
            """async () => {
                const { Series } = await import("/dashboard/stats.js");
                const hour = new Series(60, 3600);
                for (let t = 0; t < 86400; t += 1) hour.add(t, 1, 2);
                const wide = new Series(1, 86400);
                for (let t = 0; t < 86400; t += 1) wide.add(t, 1, 2);
                const gaps = hour.times.slice(1, -1).map((t, i) => t - hour.times[i]);
                return {
                    hour: hour.times.length, first: hour.times[0], last: hour.times.at(-1),
                    gaps: Math.min(...gaps), wide: wide.times.length,
                };
            }"""
        )
    assert held["last"] == 86399
    assert held["first"] >= 86399 - 3600
    assert held["hour"] <= 62
    assert held["gaps"] >= 60
    assert held["wide"] == 120
    assert problems == []


async def test_the_statistics_start_afresh_after_a_memory_daemon_restarts(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    daemon = Daemon(tmp_path, "--engine", "memory")
    async with daemon:
        page = await live_page(browser, daemon.base, problems)
        await post(daemon.base, {"type": "load", "value": 2})
        await expect(figure(page, "5m", "count")).to_have_text("1")
        await daemon.stop()
        await expect(page.get_by_test_id("connection")).to_contain_text("reconnecting")
        await expect(page.get_by_test_id("health")).to_have_attribute(
            "data-state", "unreachable", timeout=10_000
        )
        await daemon.start()
        await expect(page.get_by_test_id("connection")).to_contain_text("live")
        await expect(figure(page, "5m", "count")).to_have_text("0")
        await post(daemon.base, {"type": "load", "value": 9})
        await expect(figure(page, "5m", "count")).to_have_text("1")
        await expect(figure(page, "5m", "mean")).to_have_text("9")
        chart = tile(page, "5m").get_by_test_id("stats-chart")
        await expect(chart).to_have_attribute("data-peak", "1")
        assert int(await chart.get_attribute("data-points") or 0) >= BACKFILLED_5M
        await expect(page.get_by_test_id("health")).to_have_attribute(
            "data-state", "ok", timeout=10_000
        )
    # The browser's own reports of the daemon being away, and nothing else.
    away = re.compile(r"^(Failed to load resource|WebSocket connection to .* failed)")
    assert [p for p in problems if not away.match(p)] == []
