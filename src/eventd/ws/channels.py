"""The channel registry: the channels a `subscribe` may name, and how each one is served.

A feature registers its channel from its `setup(app)`:

    add_channel(app, "events", EventsChannel(app))

Channels give ws python values (message dicts, `Change` objects), never bytes. A `subscribe`
is served in phases; each phase runs over the channels it names, in the order in which they
were registered, before the next phase begins:

1. `channel.check(request)`: a `Refusal`, or None. Nothing is made yet; the registry has
   already refused a taken id, an unknown channel, a field that only an unnamed channel
   reads (`channel.fields`) and one subscription too many.
2. `await channel.prepare(request)`: wait for what must hold before anything is made (the
   stats wait until their windows hold this daemon's acknowledged writes: a feed
   subscription made before that would hold the live changes meanwhile, and could overflow).
3. `channel.open(request, sink)`: make the subscription, synchronously (from here on closing
   the socket drops it), and return its `Stream`, or a `Refusal`.
4. `await stream.ready()`: the fields it adds to `subscribed` (the events: the position and
   epoch live changes follow), or a `Refusal` sent in its place (`history_truncated`).
   Then `subscribed` is sent.
5. `stream.start()`: send what comes first (the stats snapshot) and begin pushing.
6. `await stream.run()`: what takes long (the events replay).

`stream.close()` ends a stream whenever its subscription is dropped, in any phase. A
`StorageError` in any phase drops the subscription and answers `unavailable`; the
connection stays.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from eventd.keys import CONFIG
from eventd.ws import protocol
from eventd.ws.connection import Sink
from eventd.ws.protocol import Filter, Subscribe, as_set, history_truncated, stats_message

# What a feature's channel takes from ws/ (the layout test holds features to this module).
__all__ = [
    "CHANNELS",
    "Channel",
    "Channels",
    "Filter",
    "Refusal",
    "Sink",
    "Stream",
    "Subscribe",
    "add_channel",
    "as_set",
    "channels",
    "history_truncated",
    "refuse",
    "stats_message",
]


@dataclass(frozen=True, slots=True)
class Refusal:
    """The message that answers a `subscribe` instead of `subscribed`; nothing is made."""

    message: dict[str, Any]


def refuse(code: protocol.ErrorCode, text: str, id: str | None) -> Refusal:
    """Return a refusal with an `error`."""
    return Refusal(protocol.error_message(code, text, id))


class Stream(Protocol):
    """One subscription's part on one channel."""

    async def ready(self) -> dict[str, Any] | Refusal:
        """Return the fields this channel adds to `subscribed`, or the refusal to send."""

    def start(self) -> None:
        """Send what comes first, and begin pushing."""

    async def run(self) -> None:
        """Send what takes long, after `subscribed` and every stream's `start`."""

    def close(self) -> None:
        """Stop sending: the subscription is dropped."""


class Channel(Protocol):
    """How one channel serves `subscribe` (see the phases above)."""

    # Fields of `subscribe` that only this channel reads: naming them without it is refused.
    fields: frozenset[str]

    def check(self, request: protocol.Subscribe) -> Refusal | None:
        """Return why `request` is refused, if it is."""

    async def prepare(self, request: protocol.Subscribe) -> None:
        """Wait for what must hold before the subscription is made."""

    def open(self, request: protocol.Subscribe, sink: Sink) -> Stream | Refusal:
        """Make the subscription, sending to `sink`; return it, or why it is refused."""


class Channels:
    """The channels a socket can subscribe to, and how many subscriptions it may hold."""

    def __init__(self, max_subscriptions: int) -> None:
        self.max_subscriptions = max_subscriptions
        self._channels: dict[str, Channel] = {}

    def add(self, name: str, channel: Channel) -> None:
        """Register `channel` under `name`."""
        if name in self._channels:
            raise ValueError(f"channel {name!r} is registered already")
        unknown = set(channel.fields) - set(protocol.Subscribe.__struct_fields__)
        if unknown:  # a field `subscribe` cannot carry: the protocol must name it first
            raise ValueError(f"channel {name!r}: subscribe has no {', '.join(sorted(unknown))}")
        self._channels[name] = channel

    @property
    def names(self) -> list[str]:
        """Return the names of the channels, sorted."""
        return sorted(self._channels)

    def chosen(self, request: protocol.Subscribe) -> list[Channel]:
        """Return the channels `request` names, in the order they were registered."""
        return [channel for name, channel in self._channels.items() if name in request.channels]

    def refusal(self, request: protocol.Subscribe, held: Collection[str]) -> Refusal | None:
        """Return why `request` is refused on a socket that holds the subscriptions `held`."""
        id = request.id
        if id in held:
            return refuse("duplicate_subscription", "id in use", id)
        if not request.channels or not set(request.channels) <= self._channels.keys():
            return refuse("bad_message", f"channels: use {', '.join(self.names)}", id)
        for name, channel in self._channels.items():
            for field in sorted(channel.fields):
                if getattr(request, field) is not None and name not in request.channels:
                    return refuse(
                        "bad_message", f"{field}: only the {name} channel has {field}", id
                    )
        if len(held) >= self.max_subscriptions:
            message = f"a connection holds at most {self.max_subscriptions} subscriptions"
            return refuse("too_many_subscriptions", message, id)
        for channel in self.chosen(request):
            refusal = channel.check(request)
            if refusal is not None:
                return refusal
        return None


CHANNELS = web.AppKey("channels", Channels)


def add_channel(app: web.Application, name: str, channel: Channel) -> None:
    """Let sockets subscribe to `channel` under `name` (from a feature's `setup(app)`)."""
    if CHANNELS not in app:
        app[CHANNELS] = Channels(app[CONFIG].feed.max_subscriptions_per_socket)
    app[CHANNELS].add(name, channel)


def channels(app: web.Application) -> Channels:
    """Return the app's channels (none if no feature registered one)."""
    return app.get(CHANNELS) or Channels(app[CONFIG].feed.max_subscriptions_per_socket)
