"""The `events` channel on its own: when it refuses, and what `subscribed` gets from it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from eventd.events.channel import EventsChannel
from eventd.feed.hub import Hub
from eventd.keys import HUB
from eventd.store.memory import MemoryEngine
from eventd.ws.channels import Refusal
from eventd.ws.protocol import Subscribe
from tests.feed.test_replay import Recorder
from tests.store.test_conformance import ev


class FakeSink(Recorder):
    """A socket's subscription, as the channel sees it."""

    hold_limit = 10


async def channel_on(engine: MemoryEngine, *, ready: bool = True) -> tuple[EventsChannel, Hub]:
    hub = Hub(engine)
    if ready:
        await hub._read_start()
    app = web.Application()
    app[HUB] = hub
    return EventsChannel(app), hub


async def ready(channel: EventsChannel, request: Subscribe) -> dict[str, Any] | Refusal:
    stream = channel.open(request, FakeSink())  # type: ignore[arg-type]
    assert not isinstance(stream, Refusal)
    return await stream.ready()


async def test_a_hub_that_does_not_know_the_head_refuses() -> None:
    channel, _ = await channel_on(MemoryEngine(), ready=False)
    refusal = channel.check(Subscribe("s"))
    assert refusal is not None
    assert refusal.message == {
        "type": "error",
        "code": "unavailable",
        "message": "the feed's head is not known yet; subscribe again later",
        "id": "s",
    }
    assert channel.open(Subscribe("s"), FakeSink()) == refusal  # type: ignore[arg-type]


async def test_subscribed_gets_where_live_changes_begin() -> None:
    engine = MemoryEngine()
    await engine.put_many([ev("a"), ev("b")])
    channel, hub = await channel_on(engine)
    assert await ready(channel, Subscribe("s")) == {"position": 2, "epoch": hub.epoch}
    assert await ready(channel, Subscribe("t", since=1)) == {"position": 2, "epoch": hub.epoch}


async def test_a_since_the_feed_cannot_continue_is_history_truncated() -> None:
    engine = MemoryEngine()
    await engine.put_many([ev("a")])
    channel, hub = await channel_on(engine)
    refusal = await ready(channel, Subscribe("s", since=9, epoch="old"))
    assert isinstance(refusal, Refusal)
    assert refusal.message == {
        "type": "history_truncated",
        "id": "s",
        "since": 9,
        "oldest": 1,
        "head": 1,
        "epoch": hub.epoch,
        "reason": "epoch",
    }
    assert not hub._subscriptions  # nothing was made
