"""The `events` channel: the changes of events in the feed, optionally replayed from `since`."""

from __future__ import annotations

from typing import get_args

from aiohttp import web

from eventd.store.base import Op
from eventd.ws.channels import FeedChannel

# A sent reminder is a change of the feed, but not of an event: it has its own channel.
EVENT_OPS: frozenset[Op] = frozenset(get_args(Op)) - {"reminder"}


class EventsChannel(FeedChannel):
    """Serves `events` subscriptions from the app's feed hub (see ws/channels.py)."""

    def __init__(self, app: web.Application) -> None:
        super().__init__(app, EVENT_OPS)
