"""The `reminders` channel: the reminders sent, as feed entries, with the `events` filter."""

from __future__ import annotations

from datetime import tzinfo

from aiohttp import web

from eventd.reminders.text import describe
from eventd.store.base import Change, Op
from eventd.ws.channels import FeedChannel

# `cleared` too: the epoch it begins keeps the subscriber's resume position valid.
REMINDER_OPS: frozenset[Op] = frozenset({"reminder", "cleared"})


class RemindersChannel(FeedChannel):
    """Serves `reminders` subscriptions from the app's feed hub (see ws/channels.py)."""

    def __init__(self, app: web.Application, zone: tzinfo | None) -> None:
        self.zone = zone
        super().__init__(app, REMINDER_OPS, self.text)

    def text(self, change: Change) -> str:
        """Return the `message` text of a `reminder` change."""
        return describe(change, self.zone)
