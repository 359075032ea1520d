"""feed/replay.py on its own: the hand-over from the replay to the live changes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from eventd.feed.hub import Hub
from eventd.feed.replay import REPLAY_PAGE, Subscription
from eventd.store.base import Change, FeedPage
from eventd.store.memory import MemoryEngine
from tests.store.test_conformance import ev


class Recorder:
    """A replay target that records what it is given, in order."""

    def __init__(self) -> None:
        self.got: list[tuple[str, int]] = []
        self.begun: tuple[int, int | None] | None = None
        self.caught_up_at: int | None = None
        self.lost_count = 0

    def begin(self, live_from: int, since: int | None) -> None:
        self.begun = (live_from, since)

    def live(self, change: Change) -> bool:
        self.got.append(("live", change.position))
        return True

    async def send(self, change: Change) -> bool:
        self.got.append(("replayed", change.position))
        return True

    async def caught_up(self, position: int) -> None:
        self.caught_up_at = position

    def lost(self) -> None:
        self.lost_count += 1


class HookedEngine(MemoryEngine):
    """Runs `hook` inside the replay's first page read, before or after the read itself."""

    hook: Callable[[], Awaitable[None]] | None = None
    after_read = False

    async def read_changes(self, after: int, limit: int) -> FeedPage:
        hook = self.hook if limit == REPLAY_PAGE else None
        self.hook = None
        if hook is not None and not self.after_read:
            await hook()
        page = await super().read_changes(after, limit)
        if hook is not None and self.after_read:
            await hook()
        return page


async def ready_hub(engine: MemoryEngine) -> Hub:
    """Return a hub that knows the feed's head; it dispatches only what a test hands it."""
    hub = Hub(engine)
    await hub._read_start()
    return hub


async def write_and_dispatch(engine: MemoryEngine, hub: Hub, name: str) -> None:
    """Write one event and dispatch its change, as the hub's tailing task would."""
    await engine.put_many([ev(name)])
    hub.dispatch((await engine.read_changes(hub.position, 10)).changes)


@pytest.mark.parametrize("after_read", [False, True], ids=["before-the-read", "after-it"])
async def test_a_change_during_the_first_page_read_is_delivered_once_in_order(
    after_read: bool,
) -> None:
    engine = HookedEngine()
    await engine.put_many([ev(str(i)) for i in range(5)])  # positions 1 to 5
    hub = await ready_hub(engine)
    target = Recorder()
    subscription = Subscription(hub, target, since=2)
    assert subscription.start() == 5
    assert target.begun == (5, 2)

    async def hook() -> None:
        await write_and_dispatch(engine, hub, "during")  # position 6

    engine.hook, engine.after_read = hook, after_read
    assert await subscription.check() is None
    assert hub.position == 6  # the change was dispatched during the read
    await subscription.replay()
    assert target.caught_up_at == 6
    await write_and_dispatch(engine, hub, "after")  # position 7, live
    replayed = [("replayed", position) for position in (3, 4, 5, 6)]
    assert target.got == [*replayed, ("live", 7)]
    assert target.lost_count == 0


async def test_more_held_changes_than_the_limit_overflow() -> None:
    engine = HookedEngine()
    await engine.put_many([ev(str(i)) for i in range(3)])
    hub = await ready_hub(engine)
    target = Recorder()
    subscription = Subscription(hub, target, since=0, hold_limit=1)
    subscription.start()
    assert await subscription.check() is None
    for name in ("a", "b"):  # two live changes while the replay has not run
        await write_and_dispatch(engine, hub, name)
    assert target.lost_count == 1
    await subscription.replay()
    assert target.got == []  # an overflowed subscription sends nothing more
    assert target.caught_up_at is None


async def test_a_since_ahead_of_the_head_ends_the_subscription() -> None:
    engine = HookedEngine()
    await engine.put_many([ev("a")])
    hub = await ready_hub(engine)
    subscription = Subscription(hub, Recorder(), since=9)
    subscription.start()
    gap = await subscription.check()
    assert gap is not None and (gap.reason, gap.head) == ("ahead", 1)
    assert subscription not in hub._subscriptions
