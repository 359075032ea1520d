"""The `stats` channel: a snapshot at once, then only the windows that changed, per tick."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from eventd.errors import BadParameter
from eventd.stats.keys import STATS
from eventd.stats.service import StatsService
from eventd.times import format_us
from eventd.ws.channels import Refusal, Sink, Subscribe, refuse, stats_message


class StatsSubscription:
    """Pushes the chosen windows of one type to one socket; unchanged windows are not resent."""

    def __init__(
        self,
        id: str,
        deliver: Callable[[dict[str, Any]], bool],
        windows: list[str],
        type: str | None,
    ) -> None:
        self.id = id
        self.deliver = deliver
        self.windows = windows
        self.type = type
        self.sent: dict[str, Any] = {}

    def push(self, service: StatsService, snapshot: dict[str, Any] | None = None) -> None:
        """Send the windows that differ from what this subscriber last got."""
        current = snapshot if snapshot is not None else service.cached(self.type)
        changed = {
            name: current[name] for name in self.windows if self.sent.get(name) != current[name]
        }
        if not changed:
            return
        self.sent |= changed
        server_time = format_us(service.clock())
        self.deliver(stats_message(self.id, server_time, self.type, changed))


def stats_subscription(
    id: str,
    deliver: Callable[[dict[str, Any]], bool],
    service: StatsService,
    request: Subscribe,
) -> StatsSubscription | str:
    """Return the subscription a `subscribe` asks for, or the reason it is refused."""
    if request.filter is not None and request.filter.key is not None:
        return "stats: filter.key is not supported; the stats channel filters by type only"
    if request.filter is not None and request.filter.data is not None:
        return "stats: filter.data is not supported; the stats channel filters by type only"
    type = request.filter.type if request.filter else None
    if isinstance(type, list):
        if len(type) != 1:
            return "stats: filter.type must name one type"
        type = type[0]
    names = []
    for given in request.windows or list(service.labels):
        try:
            names.append(service.resolve_window(given, "windows"))
        except BadParameter as exc:
            return f"{exc.field}: {exc.message}"
    return StatsSubscription(id, deliver, names, type)


class StatsChannel:
    """Serves `stats` subscriptions from the app's statistics service (see ws/channels.py)."""

    fields = frozenset({"windows"})

    def __init__(self, app: web.Application) -> None:
        self._app = app

    def check(self, request: Subscribe) -> Refusal | None:
        """Refuse a filter or windows the channel does not have."""
        made = stats_subscription(request.id, _nowhere, self._app[STATS], request)
        return refuse("bad_message", made, request.id) if isinstance(made, str) else None

    async def prepare(self, request: Subscribe) -> None:
        """Wait until the windows hold this daemon's acknowledged writes (or the wait timed
        out: the ticks bring them later)."""
        # Before any feed subscription is made: the live changes it would hold meanwhile,
        # up to `send_queue`, would overflow it.
        await self._app[STATS].caught_up()

    def open(self, request: Subscribe, sink: Sink) -> StatsStream | Refusal:
        """Make the subscription; it sends nothing before `start`."""
        service = self._app[STATS]
        made = stats_subscription(request.id, sink.push, service, request)
        if isinstance(made, str):  # `check` said it would not be
            return refuse("bad_message", made, request.id)
        return StatsStream(service, made)


class StatsStream:
    """One `stats` subscription: the snapshot of its windows, then what each tick changed."""

    def __init__(self, service: StatsService, subscription: StatsSubscription) -> None:
        self.service = service
        self.subscription = subscription

    async def ready(self) -> dict[str, Any]:
        """Add nothing to `subscribed`."""
        return {}

    def start(self) -> None:
        """Send the snapshot of the windows; later ticks send what changed."""
        subscription = self.subscription
        subscription.push(self.service, self.service.snapshot(type=subscription.type))
        self.service.add_listener(subscription.push)

    async def run(self) -> None:
        """Nothing takes long: the ticks push."""

    def close(self) -> None:
        """Stop the ticks' pushes."""
        self.service.remove_listener(self.subscription.push)


def _nowhere(message: dict[str, Any]) -> bool:
    return True
