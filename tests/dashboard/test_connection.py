"""The page's one WebSocket (connection.js, events.js): a subscription the daemon cannot make
yet, the reconnection delay, a restarted memory daemon, one events subscription per page."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, WebSocketRoute, expect

from tests.daemon import Daemon
from tests.dashboard.page import BROWSER_TESTS, open_page, post
from tests.gate import Gate

pytestmark = BROWSER_TESTS

# connection.js against a WebSocket and timers of the test's own, in a page of the daemon's
# origin: returns what the script returns.
HARNESS = """async (script) => {
  const { Connection, FeedSubscription, Subscription } = await import("/dashboard/connection.js");
  const sockets = [];
  const timers = [];
  window.WebSocket = class {
    constructor(url) { this.sent = []; this.handlers = {}; sockets.push(this); }
    addEventListener(type, handler) { this.handlers[type] = handler; }
    send(text) { this.sent.push(JSON.parse(text)); }
    close() { this.emit("close", { code: 1000 }); }
    emit(type, event) { this.handlers[type](event); }
    tell(message) { this.emit("message", { data: JSON.stringify(message) }); }
  };
  window.setTimeout = (run, delay) => { timers.push({ run, delay }); return timers.length; };
  const states = [];
  const onState = (state) => states.push(state);
  const connection = new Connection({ url: "ws://test/ws", onState });
  const run = new Function("connection", "sockets", "timers", "states", "Subscription",
    "FeedSubscription", `return (async () => { ${script} })();`);
  return run(connection, sockets, timers, states, Subscription, FeedSubscription);
}"""


async def harness(browser: Browser, daemon: Daemon, problems: list[str], script: str) -> Any:
    # A file of the dashboard's own, so that the page has the daemon's origin and no app.js.
    page = await browser.new_page()
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    await page.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    await page.goto(f"{daemon.base}/dashboard/style.css")
    return await page.evaluate(HARNESS, script)


async def test_the_reconnection_delay_grows_until_every_subscription_is_made(
    browser: Browser, tmp_path: Path
) -> None:
    # A daemon that makes one subscription and then drops the connection, again and again,
    # is asked ever less often; once every subscription is made, the delay starts afresh.
    script = """
      connection.add(new Subscription("a", { channels: ["stats"] }, () => {}));
      connection.add(new Subscription("b", { channels: ["stats"] }, () => {}));
      connection.start();
      for (let round = 0; round < 4; round++) {
        const socket = sockets.at(-1);
        socket.tell({ type: "welcome", epoch: "e" });
        socket.tell({ type: "subscribed", id: "a", position: 0 });
        if (round === 3) socket.tell({ type: "subscribed", id: "b", position: 0 });
        socket.emit("close", { code: 4008 });
        timers.at(-1).run();
      }
      return timers.map((timer) => timer.delay);
    """
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        delays = await harness(browser, daemon, problems, script)
    assert delays == [250, 500, 1000, 250]
    assert problems == []


async def test_an_unavailable_subscription_is_asked_again_alone(
    browser: Browser, tmp_path: Path
) -> None:
    script = """
      connection.add(new Subscription("a", { channels: ["stats"] }, () => {}));
      connection.add(new Subscription("b", { channels: ["stats"] }, () => {}));
      connection.start();
      const socket = sockets[0];
      socket.tell({ type: "welcome", epoch: "e" });
      socket.tell({ type: "subscribed", id: "a", position: 0 });
      const asked = [];
      for (let round = 0; round < 3; round++) {
        socket.tell({ type: "error", code: "unavailable", message: "not yet", id: "b" });
        asked.push(timers.at(-1).delay);
        timers.at(-1).run();
      }
      socket.tell({ type: "subscribed", id: "b", position: 0 });
      return { sockets: sockets.length, sent: socket.sent.map((m) => m.id), asked, states };
    """
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        seen = await harness(browser, daemon, problems, script)
    assert seen["sockets"] == 1  # the socket, and "a" on it, stayed
    assert seen["sent"] == ["a", "b", "b", "b", "b"]
    assert seen["asked"] == [250, 500, 1000]  # a backoff of its own
    assert seen["states"][-1] == "live"
    assert [problem for problem in problems if "unavailable" not in problem] == []


async def test_a_lost_history_is_read_again_from_at_most_the_newest_changes(
    browser: Browser, tmp_path: Path
) -> None:
    script = """
      const resets = [];
      const feed = new FeedSubscription("f", { channels: ["events"] }, {
        onChange: () => {}, onReset: () => resets.push("reset"), replayed: 1000 });
      connection.add(feed);
      connection.start();
      const socket = sockets[0];
      socket.tell({ type: "welcome", epoch: "old" });
      socket.tell({ type: "subscribed", id: "f", position: 7, epoch: "old" });
      socket.emit("close", { code: 4008 });
      timers.at(-1).run();
      const again = sockets[1];
      again.tell({ type: "welcome", epoch: "new" });
      again.tell({ type: "history_truncated", id: "f", since: 7, oldest: 1, head: 5000,
        epoch: "new", reason: "epoch" });
      again.tell({ type: "history_truncated", id: "f", since: 4000, oldest: 4200, head: 5100,
        epoch: "new", reason: "trimmed" });
      return { sent: again.sent, resets };
    """
    problems: list[str] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        seen = await harness(browser, daemon, problems, script)
    first, bounded, oldest = seen["sent"]
    assert (first["since"], first["epoch"]) == (7, "old")
    assert (bounded["since"], bounded["epoch"]) == (4000, "new")  # head - 1000
    assert (oldest["since"], oldest["epoch"]) == (4199, "new")  # the oldest held
    assert seen["resets"] == ["reset", "reset"]
    assert problems == []


async def test_events_a_restarted_memory_daemon_took_before_the_page_came_back_are_shown(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    daemon = Daemon(tmp_path, "--engine", "memory")
    async with daemon, Gate(daemon.port) as gate:
        page = await open_page(browser, gate.base, problems)
        connection = page.get_by_test_id("connection")
        await expect(connection).to_contain_text("live")
        await post(daemon.base, {"type": "job", "key": "a", "title": "lost"})
        rows = page.get_by_test_id("feed-row")
        await expect(rows).to_have_count(1)

        gate.hold()  # the page stays away until the new daemon has an event
        await expect(connection).to_contain_text("reconnecting")
        await daemon.stop()
        await daemon.start()
        await post(daemon.base, {"type": "job", "key": "a", "title": "early"})
        gate.release()
        await expect(connection).to_contain_text("live", timeout=15000)
        await expect(rows.filter(has_text="early")).to_have_count(1)
        await expect(rows).to_have_count(1)  # "lost" belonged to the old daemon
        await post(daemon.base, {"type": "job", "key": "a", "title": "later"})
        await expect(rows).to_have_count(2)
    # Chromium logs the connections the shut gate refused (the socket, the health checks).
    refused = ("WebSocket connection", "Failed to load resource: net::")
    assert [problem for problem in problems if not problem.startswith(refused)] == []


async def route_frames(page: Page, frames: list[dict[str, Any]]) -> list[int]:
    """Pass the page's WebSocket through, keeping every frame (both ways) in `frames`;
    return the list that counts the connections."""
    connections: list[int] = []

    def route(ws: WebSocketRoute) -> None:
        connections.append(1)
        server = ws.connect_to_server()

        def up(text: str | bytes) -> None:
            frames.append({"up": True, **json.loads(text)})
            server.send(text)

        def down(text: str | bytes) -> None:
            frames.append({"up": False, **json.loads(text)})
            ws.send(text)

        ws.on_message(up)
        server.on_message(down)

    await page.route_web_socket("**/ws", route)
    return connections


async def test_the_feed_and_the_reminders_share_one_events_subscription(
    browser: Browser, tmp_path: Path
) -> None:
    problems: list[str] = []
    frames: list[dict[str, Any]] = []
    async with Daemon(tmp_path, "--engine", "memory") as daemon:
        page = await browser.new_page(viewport={"width": 1280, "height": 720})
        page.on("pageerror", lambda error: problems.append(str(error)))
        connections = await route_frames(page, frames)
        await page.goto(f"{daemon.base}/?type=job")
        await expect(page.get_by_test_id("connection")).to_contain_text("live")
        await post(daemon.base, {"type": "job", "title": "once"})
        await expect(page.get_by_test_id("feed-row").filter(has_text="once")).to_have_count(1)

        def on_events() -> list[dict[str, Any]]:
            return [
                frame
                for frame in frames
                if frame["up"] and frame["type"] == "subscribe"
                if "events" in frame.get("channels", ["events"])
                and "timeline" not in frame["id"]
                and "transitions" not in frame["id"]
            ]

        [subscribe] = on_events()
        assert subscribe["channels"] == ["events", "reminders"]
        assert subscribe["filter"] == {"type": "job"}
        changes = [frame for frame in frames if not frame["up"] and frame["type"] == "change"]
        assert [change["sub"] for change in changes] == [subscribe["id"]]  # once

        # A new filter in the header: the one subscription is made afresh, with it.
        await page.get_by_test_id("filter-type").fill("deploy")
        await page.get_by_test_id("filter-type").dispatch_event("change")
        await expect(page.get_by_test_id("feed-row")).to_have_count(0)
        await post(daemon.base, {"type": "deploy", "title": "new filter"})
        await expect(page.get_by_test_id("feed-row").filter(has_text="new filter")).to_have_count(1)
        renewed = on_events()[1:]
        assert [(frame["filter"], frame["channels"]) for frame in renewed] == [
            ({"type": "deploy"}, ["events", "reminders"])
        ]
        assert len(connections) == 1
    assert problems == []
