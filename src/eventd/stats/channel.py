"""The `stats` channel: a snapshot at once, then only the windows that changed, per tick."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventd.errors import BadParameter
from eventd.stats.service import StatsService
from eventd.times import format_us
from eventd.ws import protocol


class StatsSubscription:
    """Pushes the chosen windows of one type to one socket; unchanged windows are not resent."""

    def __init__(
        self,
        id: str,
        deliver: Callable[[bytes, int], bool],
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
        message = {
            "type": "stats",
            "sub": self.id,
            "server_time": format_us(service.clock()),
            "stats_type": self.type,
            "windows": changed,
        }
        self.deliver(protocol.encode(message), 0)


def stats_subscription(
    id: str,
    deliver: Callable[[bytes, int], bool],
    service: StatsService,
    request: protocol.Subscribe,
) -> StatsSubscription | str:
    """Return the subscription a `subscribe` asks for, or the reason it is refused."""
    if request.filter is not None and request.filter.key is not None:
        return "stats: filter.key is not supported; the stats channel filters by type only"
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
