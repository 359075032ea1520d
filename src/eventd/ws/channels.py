"""The channel registry: the channels a `subscribe` may name, and how each one is served.

A feature registers its channel from its `setup(app)`:

    add_channel(app, "events", EventsChannel(app))

A channel of feed changes is a `FeedChannel` that names the ops it sends (`events`: the
changes of events; `reminders`: the `reminder` changes). The feed channels one `subscribe`
names are served by ONE feed subscription, with the union of their ops (see
`Channels.serving`): their messages come in position order on one `sub`, with one resume
position, and a subscription gets no op that none of its channels sends.

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

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from eventd.feed.replay import Subscription
from eventd.fields import FieldPath
from eventd.keys import CONFIG, HUB
from eventd.store.base import Op
from eventd.store.where import data_clause
from eventd.ws import protocol
from eventd.ws.connection import Sink
from eventd.ws.protocol import (
    Describe,
    Filter,
    Subscribe,
    as_set,
    history_truncated,
    stats_message,
    transitions_message,
)

# What a feature's channel takes from ws/ (the layout test holds features to this module).
__all__ = [
    "CHANNELS",
    "Channel",
    "Channels",
    "Describe",
    "FeedChannel",
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
    "transitions_message",
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
        # Subscriptions held on every socket, in all and by channel (for /health).
        self.subscriptions = 0
        self._held: Counter[str] = Counter()

    def add(self, name: str, channel: Channel) -> None:
        """Register `channel` under `name`."""
        if name in self._channels:
            raise ValueError(f"channel {name!r} is registered already")
        unknown = set(channel.fields) - set(protocol.Subscribe.__struct_fields__)
        if unknown:  # a field `subscribe` cannot carry: the protocol must name it first
            raise ValueError(f"channel {name!r}: subscribe has no {', '.join(sorted(unknown))}")
        self._channels[name] = channel

    def opened(self, names: Iterable[str]) -> None:
        """Count a subscription made on the channels `names`."""
        self.subscriptions += 1
        self._held.update(names)

    def closed(self, names: Iterable[str]) -> None:
        """Count a subscription on the channels `names` as ended."""
        self.subscriptions -= 1
        self._held.subtract(names)

    def held(self) -> dict[str, int]:
        """Return how many subscriptions every socket holds on each channel."""
        return {name: self._held[name] for name in self.names}

    @property
    def names(self) -> list[str]:
        """Return the names of the channels, sorted."""
        return sorted(self._channels)

    def chosen(self, request: protocol.Subscribe) -> list[Channel]:
        """Return the channels `request` names, in the order they were registered."""
        return [channel for name, channel in self._channels.items() if name in request.channels]

    def serving(self, request: protocol.Subscribe) -> list[Channel]:
        """Return the channels that serve `request`: those it names, with its feed channels
        merged into one, in the place of the first (one feed subscription for all)."""
        chosen = self.chosen(request)
        feeds = [channel for channel in chosen if isinstance(channel, FeedChannel)]
        if len(feeds) < 2:
            return chosen
        merged = FeedChannel.merge(feeds)
        return [merged if c is feeds[0] else c for c in chosen if c not in feeds[1:]]

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


class FeedChannel:
    """A channel of feed changes with the ops `ops`, filtered by type, key and data values
    (`filter.data`: a path in the event's data, as `GET /events?data.<path>` takes it, to
    the JSON value it must have; several are ANDed), optionally replayed from `since`;
    `describe` makes the `message` text of `reminder` messages."""

    fields: frozenset[str] = frozenset()

    def __init__(
        self, app: web.Application, ops: frozenset[Op], describe: Describe | None = None
    ) -> None:
        self._app = app
        self.ops = ops
        self.describe = describe

    @classmethod
    def merge(cls, channels: list[FeedChannel]) -> FeedChannel:
        """Return one channel that sends what each of `channels` sends."""
        describe = next((c.describe for c in channels if c.describe is not None), None)
        return cls(channels[0]._app, frozenset().union(*(c.ops for c in channels)), describe)

    def check(self, request: Subscribe) -> Refusal | None:
        """Refuse a bad data filter, and any subscription while the hub does not know where
        the feed stands."""
        where = data_filter(request.filter)
        if isinstance(where, str):
            return refuse("bad_message", where, request.id)
        if self._app[HUB].ready:
            return None
        # Until the hub has read the feed's head it cannot say where live changes begin: a
        # replay would end at 0 and the changes up to the head would never be sent.
        message = "the feed's head is not known yet; subscribe again later"
        return refuse("unavailable", message, request.id)

    async def prepare(self, request: Subscribe) -> None:
        """Wait for nothing: the subscription is made in `open`."""

    def open(self, request: Subscribe, sink: Sink) -> FeedStream | Refusal:
        """Subscribe to the hub and read where live changes begin, in one step."""
        unready = self.check(request)  # again: another channel may have waited meanwhile
        if unready is not None:
            return unready
        if self.describe is not None:
            sink.describe = self.describe
        filter = request.filter or Filter()
        where = data_filter(filter)
        if isinstance(where, str):  # `check` said it would not be
            return refuse("bad_message", where, request.id)
        subscription = Subscription(
            self._app[HUB],
            sink,
            ops=self.ops,
            types=as_set(filter.type),
            keys=as_set(filter.key),
            where=where,
            since=request.since,
            epoch=request.epoch,
            hold_limit=sink.hold_limit,
        )
        subscription.start()
        return FeedStream(request, subscription)


MAX_DATA_CLAUSES = 16


def data_filter(filter: Filter | None) -> tuple[tuple[FieldPath, Any], ...] | str:
    """Return the clauses of a filter's `data` (path -> value, ANDed), or why it is refused."""
    if filter is None or filter.data is None:
        return ()
    if len(filter.data) > MAX_DATA_CLAUSES:
        return f"filter.data: at most {MAX_DATA_CLAUSES} paths"
    clauses: dict[str, tuple[FieldPath, Any]] = {}
    for text, value in filter.data.items():
        try:
            path, value = data_clause(text, value)
        except ValueError as exc:
            return f"filter.data: {text!r} {exc}"
        if path.key in clauses:
            return f"filter.data: {text!r} names the field of {clauses[path.key][0].text!r} again"
        clauses[path.key] = (path, value)
    return tuple(clauses.values())


class FeedStream:
    """One subscription's feed changes: its replay, then the live changes."""

    def __init__(self, request: Subscribe, subscription: Subscription) -> None:
        self.request = request
        self.subscription = subscription

    async def ready(self) -> dict[str, Any] | Refusal:
        """Return where live changes begin, or `history_truncated` if `since` is gone."""
        subscription = self.subscription
        gap = await subscription.check()
        if gap is None:
            return {"position": subscription.live_from, "epoch": subscription.epoch}
        request = self.request
        return Refusal(
            history_truncated(
                request.id, request.since, gap.oldest, gap.head, gap.epoch, gap.reason
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
