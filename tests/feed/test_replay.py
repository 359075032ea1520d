"""feed/replay.py on its own: the hand-over from the replay to the live changes."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from eventd.feed.hub import REPLAYS_AT_ONCE, Hub
from eventd.feed.replay import REPLAY_PAGE, Subscription
from eventd.store.base import Change, FeedPage
from eventd.store.memory import MemoryEngine
from tests.store.test_conformance import ev
from tests.turns import Turns
from tests.waiting import TIMEOUT


class Recorder:
    """A replay target that records what it is given, in order."""

    def __init__(self) -> None:
        self.got: list[tuple[str, int]] = []
        self.begun: tuple[int, int | None] | None = None
        self.caught_up_at: int | None = None
        self.lost_count = 0
        self.turns: Turns | None = None  # marks each replayed change, if set

    def begin(self, live_from: int, since: int | None) -> None:
        self.begun = (live_from, since)

    def live(self, change: Change) -> bool:
        self.got.append(("live", change.position))
        return True

    def take(self, change: Change) -> bool:
        if self.turns is not None:
            self.turns.mark()
        self.got.append(("replayed", change.position))
        return True

    async def send(self, change: Change) -> bool:
        return self.take(change)

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


class Cramped(Recorder):
    """A target that has no room for the replayed change `full_at` until let go."""

    def __init__(self, full_at: int) -> None:
        super().__init__()
        self.full_at = full_at
        self.waiting = asyncio.Event()
        self.room = asyncio.Event()

    def take(self, change: Change) -> bool:
        if change.position == self.full_at and not self.room.is_set():
            return False
        return super().take(change)

    async def send(self, change: Change) -> bool:
        self.waiting.set()
        await self.room.wait()
        return self.take(change)


async def replaying(hub: Hub, target: Recorder, since: int, **filters: Any) -> Subscription:
    subscription = Subscription(hub, target, since=since, **filters)
    subscription.start()
    assert await subscription.check() is None
    return subscription


async def test_many_replays_at_once_let_other_tasks_run_and_send_every_change() -> None:
    engine = HookedEngine()
    count = 4 * REPLAY_PAGE + 7
    await engine.put_many([ev(f"e{n:04}", type="odd" if n % 2 else "even") for n in range(count)])
    hub = await ready_hub(engine)
    targets = [Recorder() for _ in range(3 * REPLAYS_AT_ONCE)]
    subscriptions = [
        await replaying(hub, target, since=n, types=frozenset({"odd"}) if n % 2 else None)
        for n, target in enumerate(targets)
    ]
    async with Turns() as turns:
        for target in targets:
            target.turns = turns
        await asyncio.gather(*(subscription.replay() for subscription in subscriptions))
    for n, target in enumerate(targets):
        positions = range(n + 1, count + 1)
        wanted = [p for p in positions if p % 2 == 0] if n % 2 else list(positions)
        assert target.got == [("replayed", p) for p in wanted]
        assert target.caught_up_at == count
    # Another task runs between the pages of every replay: at most a page for each of the
    # replays that take their turn at once, between two of its turns.
    assert turns.longest_run() <= REPLAYS_AT_ONCE * REPLAY_PAGE < count


async def test_a_replay_waiting_for_room_lets_the_others_take_their_turn() -> None:
    engine = HookedEngine()
    await engine.put_many([ev(f"e{n:04}") for n in range(2 * REPLAY_PAGE)])
    hub = await ready_hub(engine)
    cramped = [Cramped(full_at=10) for _ in range(REPLAYS_AT_ONCE)]
    stuck = [await replaying(hub, target, since=0) for target in cramped]
    waiting = [asyncio.create_task(subscription.replay()) for subscription in stuck]
    for target in cramped:
        await asyncio.wait_for(target.waiting.wait(), TIMEOUT)
    others = [Recorder() for _ in range(2)]
    for target in others:  # every turn would be held if a replay kept it while it waits
        await (await replaying(hub, target, since=0)).replay()
        assert target.caught_up_at == 2 * REPLAY_PAGE
    for target in cramped:
        target.room.set()
    await asyncio.gather(*waiting)
    expected = [("replayed", p) for p in range(1, 2 * REPLAY_PAGE + 1)]
    assert all(target.got == expected for target in cramped)
