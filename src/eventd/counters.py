"""Counts of what happens in the daemon, kept as it happens and read by metrics when scraped.

Plain integers in one object per app, so that counting costs an addition whether metrics are
served or not, and the modules that count need nothing of the metrics library. What a
component can tell by itself at any time (the store worker's queue, the hub's position, the
channel registry's subscriptions) is read from that component instead.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass(slots=True)
class Counters:
    """What happened since the daemon started."""

    ws_messages_sent: int = 0  # messages written to WebSocket subscribers
    ws_slow_closed: int = 0  # sockets closed because their subscriber fell behind
    rebuilds: Counter[str] = field(default_factory=Counter)  # by projection name ("stats")
    reminders_fired: int = 0  # claimed by this daemon and sent (late ones included)
    reminders_late: int = 0  # sent after their due time, within reminders.late_grace
    reminders_missed: int = 0  # claimed too late to send
