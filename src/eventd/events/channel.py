"""The `events` channel: the changes of events in the feed, optionally replayed from `since`."""

from __future__ import annotations

from aiohttp import web

from eventd.store.base import Op
from eventd.ws.channels import FeedChannel

# Every op but `reminder`: a subscriber of `events` alone gets no reminder messages.
EVENT_OPS: frozenset[Op] = frozenset({"created", "updated", "deleted", "cleared"})


class EventsChannel(FeedChannel):
    """Serves `events` subscriptions from the app's feed hub (see ws/channels.py)."""

    def __init__(self, app: web.Application) -> None:
        super().__init__(app, EVENT_OPS)
