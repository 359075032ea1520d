"""The `transitions` channel: the transitions of an indexed field over the last `window`, a
snapshot at once, then the pairs whose figures changed, at most once per push interval."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from eventd.fields import FieldPath, PathError, parse_path
from eventd.timelines.keys import TRANSITIONS
from eventd.timelines.points import Window, dwell_stats
from eventd.timelines.service import TransitionsService
from eventd.times import MIN_US, US, TimeError, format_us, parse_duration
from eventd.ws.channels import (
    Refusal,
    Sink,
    Subscribe,
    as_set,
    refuse,
    transitions_message,
)

DEFAULT_WINDOW = "1h"
MAX_WINDOW = 366 * 24 * 3600  # seconds
Pair = tuple[str, str]  # canonical JSON of (from, to)


class TransitionsSubscription:
    """Pushes the transitions of one field over the last `seconds` to one socket; pairs whose
    figures did not change are not resent, and a pair that left the window is sent once
    with count 0."""

    def __init__(
        self,
        id: str,
        deliver: Callable[[dict[str, Any]], bool],
        service: TransitionsService,
        path: FieldPath,
        seconds: int,
        filter: tuple[frozenset[str] | None, frozenset[str] | None],
    ) -> None:
        self.id = id
        self.deliver = deliver
        self.service = service
        self.path = path
        self.seconds = seconds
        self.types, self.keys = filter
        self.sent: dict[Pair, dict[str, Any]] | None = None  # None: nothing sent yet

    def question(self) -> tuple[FieldPath, Window]:
        """Return the field and the window, ending now (at the tick's time in a tick)."""
        end = self.service.now()
        window = Window(max(MIN_US, end - self.seconds * US), end, types=self.types, keys=self.keys)
        return self.path, window

    def push(self) -> None:
        """Send the pairs that differ from what this subscriber last got (all, the first
        time)."""
        _, window = self.question()
        end = window.end
        current = self.service.window_entries(self.path, window)
        if self.sent is None:
            changed = list(current.values())
        else:
            changed = [entry for pair, entry in current.items() if self.sent.get(pair) != entry]
            changed += [_left(entry) for pair, entry in self.sent.items() if pair not in current]
            if not changed:
                return
        self.sent = current
        self.deliver(
            transitions_message(
                self.id, self.path.text, format_us(window.start), format_us(end), changed
            )
        )


def _left(entry: dict[str, Any]) -> dict[str, Any]:
    """Return the entry of a pair that left the window."""
    return entry | {"count": 0, "dwell_seconds": dwell_stats([])}


def subscription(
    id: str,
    deliver: Callable[[dict[str, Any]], bool],
    service: TransitionsService,
    request: Subscribe,
) -> TransitionsSubscription | str:
    """Return the subscription a `subscribe` asks for, or the reason it is refused."""
    if request.field is None:
        return "field: is required by the transitions channel"
    try:
        path = parse_path(request.field)
    except PathError as exc:
        return f"field: {exc}"
    if service.index(path) is None:
        indexed = ", ".join(path.text for path in service.paths.values()) or "none"
        return (
            f"field: {request.field!r} is not indexed (timelines.indexed_fields: {indexed}); "
            "the transitions channel follows indexed fields only"
        )
    if request.filter is not None and request.filter.data is not None:
        return "filter.data: is not supported; the transitions channel filters by type and key"
    if request.window == "":
        return "window: must not be empty (leave it out for the default, 1h)"
    try:
        seconds = parse_duration(DEFAULT_WINDOW if request.window is None else request.window)
    except TimeError as exc:
        return f"window: {exc}"
    if not 0 < seconds <= MAX_WINDOW:
        return f"window: must be from 1s to {MAX_WINDOW // 86400}d"
    filter = request.filter
    types = None if filter is None else as_set(filter.type)
    keys = None if filter is None else as_set(filter.key)
    return TransitionsSubscription(id, deliver, service, path, seconds, (types, keys))


class TransitionsChannel:
    """Serves `transitions` subscriptions from the app's transitions service."""

    fields = frozenset({"field", "window"})

    def __init__(self, app: web.Application) -> None:
        self._app = app

    def check(self, request: Subscribe) -> Refusal | None:
        """Refuse a field that is not indexed, or a bad window."""
        made = subscription(request.id, _nowhere, self._app[TRANSITIONS], request)
        return refuse("bad_message", made, request.id) if isinstance(made, str) else None

    async def prepare(self, request: Subscribe) -> None:
        """Wait until the index holds this daemon's acknowledged writes (or the wait timed
        out: the ticks bring them later)."""
        await self._app[TRANSITIONS].caught_up()

    def open(self, request: Subscribe, sink: Sink) -> TransitionsStream | Refusal:
        """Make the subscription; it sends nothing before `start`."""
        made = subscription(request.id, sink.push, self._app[TRANSITIONS], request)
        if isinstance(made, str):  # `check` said it would not be
            return refuse("bad_message", made, request.id)
        return TransitionsStream(made)


class TransitionsStream:
    """One `transitions` subscription: a snapshot, then what each tick changed."""

    def __init__(self, subscription: TransitionsSubscription) -> None:
        self.subscription = subscription

    async def ready(self) -> dict[str, Any]:
        """Add nothing to `subscribed`."""
        return {}

    def start(self) -> None:
        """Send the snapshot; later ticks send what changed."""
        self.subscription.push()
        self.subscription.service.listeners.add(self.subscription)

    async def run(self) -> None:
        """Nothing takes long: the ticks push."""

    def close(self) -> None:
        """Stop the ticks' pushes."""
        self.subscription.service.listeners.discard(self.subscription)


def _nowhere(message: dict[str, Any]) -> bool:
    return True
