"""The `events` channel: the changes of the feed, optionally replayed from `since`."""

from __future__ import annotations

from typing import Any, get_args

from aiohttp import web

from eventd.feed.replay import Subscription
from eventd.keys import HUB
from eventd.store.base import Op
from eventd.ws.channels import (
    Filter,
    Refusal,
    Sink,
    Subscribe,
    as_set,
    history_truncated,
    refuse,
)

# A sent reminder is a change of the feed, but not of an event: it has its own channel.
EVENT_OPS: frozenset[Op] = frozenset(get_args(Op)) - {"reminder"}


class EventsChannel:
    """Serves `events` subscriptions from the app's feed hub (see ws/channels.py)."""

    fields: frozenset[str] = frozenset()

    def __init__(self, app: web.Application) -> None:
        self._app = app

    def check(self, request: Subscribe) -> Refusal | None:
        """Refuse a subscription while the hub does not know where the feed stands."""
        if self._app[HUB].ready:
            return None
        # Until the hub has read the feed's head it cannot say where live changes begin: a
        # replay would end at 0 and the changes up to the head would never be sent.
        message = "the feed's head is not known yet; subscribe again later"
        return refuse("unavailable", message, request.id)

    async def prepare(self, request: Subscribe) -> None:
        """Wait for nothing: the subscription is made in `open`."""

    def open(self, request: Subscribe, sink: Sink) -> EventsStream | Refusal:
        """Subscribe to the hub and read where live changes begin, in one step."""
        unready = self.check(request)  # again: another channel may have waited meanwhile
        if unready is not None:
            return unready
        filter = request.filter or Filter()
        subscription = Subscription(
            self._app[HUB],
            sink,
            types=as_set(filter.type),
            keys=as_set(filter.key),
            ops=EVENT_OPS,
            since=request.since,
            epoch=request.epoch,
            hold_limit=sink.hold_limit,
        )
        subscription.start()
        return EventsStream(request, subscription)


class EventsStream:
    """One `events` subscription: its replay, then the live changes."""

    def __init__(self, request: Subscribe, subscription: Subscription) -> None:
        self.request = request
        self.subscription = subscription

    async def ready(self) -> dict[str, Any] | Refusal:
        """Return where live changes begin, or `history_truncated` if `since` is gone."""
        subscription = self.subscription
        gap = await subscription.check()
        if gap is None:
            return {"position": subscription.live_from, "epoch": subscription.epoch}
        return Refusal(
            history_truncated(
                self.request.id, self.request.since, gap.oldest, gap.head, gap.epoch, gap.reason
            )
        )

    def start(self) -> None:
        """Begin: live changes already flow (or are held for the replay)."""

    async def run(self) -> None:
        """Send the replay, then the changes held meanwhile."""
        await self.subscription.replay()

    def close(self) -> None:
        """Leave the hub."""
        self.subscription.close()
