"""The Redis engine's reminder reads and claims; arming is in the scripts that write events.

Pending reminders are the due index: a sorted set in `(due, event_id, offset)` order
(`packing.reminder_member`), so the next due one and the due ones cost O(log n + k).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from eventd.store.base import LATE_AFTER, Reminder, ReminderPage, ReminderQuery
from eventd.store.redis.layout import Keys
from eventd.store.redis.packing import (
    bound_stamp,
    due_stamp,
    records,
    reminder_order,
    reminder_span,
)

# Reminders per claim script: a claim after a long downtime takes many, and Redis runs
# nothing else while a script runs.
CLAIM_CHUNK = 500
# Members read per round trip when a type or key filter may skip many of them.
SCAN_BATCH = 1000


class ReminderReads:
    """Claims and reads reminders of one store; each script run is one round trip."""

    def __init__(
        self,
        client: aioredis.Redis,
        keys: Keys,
        scripts: dict[str, AsyncScript],
        round_trip: Callable[[], None],
        history: int,
    ) -> None:
        self._client = client
        self._keys = keys
        self._claim = scripts["claim"]
        self._read = scripts["reminders"]
        self._round_trip = round_trip
        self._history = history

    async def next_due(self) -> int | None:
        """Return the earliest due time of a pending reminder, or None."""
        first: Any = await self._client.zrange(self._keys.pending, 0, 0)
        return reminder_order(first[0])[0] if first else None

    async def claim_due(self, now: int, limit: int, late_grace: int) -> list[Reminder]:
        """Claim up to `limit` due reminders, a script per `CLAIM_CHUNK` of them."""
        keys = self._keys
        script_keys = [
            keys.events,
            keys.pos,
            keys.feed,
            keys.pending,
            keys.in_state("sent"),
            keys.in_state("missed"),
        ]
        times = [due_stamp(now), bound_stamp(now - late_grace), bound_stamp(now - LATE_AFTER)]
        high = "(" + bound_stamp(now + 1)  # past every member due by now
        claimed: list[Reminder] = []
        while len(claimed) < limit:
            take = min(CLAIM_CHUNK, limit - len(claimed))
            args: list[Any] = [keys.reminders, high, take, *times, self._history]
            scanned, *rows = await self._claim(keys=script_keys, args=args)
            self._round_trip()
            claimed += records(rows)
            if scanned < take:
                break
        return claimed

    async def list_reminders(self, query: ReminderQuery) -> ReminderPage:
        """Return a page of reminders in `query.state`, in due order after its cursor."""
        low, high = reminder_span(query)
        # Type and key are filters on the records, not indexes: within the due range, a page
        # reads on past the reminders of other types and keys.
        filtered = query.type is not None or query.key is not None
        batch = max(query.limit + 1, SCAN_BATCH) if filtered else query.limit + 1
        found: list[Reminder] = []
        while True:
            rows = await self._rows(self._keys.in_state(query.state), low, high, batch)
            found += [r for r in records(rows) if _matches(r, query)]
            if len(found) > query.limit or len(rows) < batch:
                break
            low = b"(" + rows[-1][0]
        return ReminderPage(found[: query.limit], more=len(found) > query.limit)

    async def event_reminders(self, event_id: str) -> list[Reminder]:
        """Return every reminder of the event, in due order."""
        return records(await self._rows(self._keys.reminders_of(event_id), "-", "+", -1))

    async def _rows(self, key: str, low: str | bytes, high: str, count: int) -> list[Any]:
        rows: list[Any] = await self._read(
            keys=[key], args=[self._keys.reminders, low, high, count]
        )
        self._round_trip()
        return rows


def _matches(reminder: Reminder, query: ReminderQuery) -> bool:
    return (query.type is None or reminder.type == query.type) and (
        query.key is None or reminder.key == query.key
    )
