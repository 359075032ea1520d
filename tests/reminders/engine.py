"""A memory engine with reminders, written plainly from the `Reminders` contract, for the
feature's tests until the memory engine keeps reminders itself (it scans: tests only)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import msgspec

from eventd.config import Config, parse_offsets
from eventd.model import Event
from eventd.store.base import (
    LATE_AFTER,
    Change,
    PutResult,
    Reminder,
    ReminderPage,
    ReminderQuery,
    Reminders,
)
from eventd.store.memory import MemoryEngine

Key = tuple[str, int, int]


class RemindingEngine(MemoryEngine, Reminders):
    """The memory engine, with every event's reminders in a dict."""

    def __init__(self, *, default_offsets: tuple[int, ...] = (300,), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.default_offsets = default_offsets
        self.reminders: dict[Key, Reminder] = {}

    @classmethod
    def from_config(cls, config: Config) -> Self:
        offsets = parse_offsets(config.reminders.default_offsets)
        return cls(history=config.feed.history, default_offsets=offsets)

    async def put_many(self, events: Sequence[Event]) -> list[PutResult]:
        results = await super().put_many(events)
        for result in results:
            if result.created:
                self._arm(result.event)
        return results

    async def update(self, id: str, changes: Mapping[str, Any], updated: int) -> Event | None:
        event = await super().update(id, changes, updated)
        if event is not None:
            self._arm(event)
        return event

    async def delete(self, id: str) -> Event | None:
        event = await super().delete(id)
        if event is not None:
            for key, reminder in list(self.reminders.items()):
                if reminder.event_id == id and reminder.state == "pending":
                    self.reminders[key] = msgspec.structs.replace(reminder, state="cancelled")
        return event

    async def clear(self) -> int:
        self.reminders.clear()
        return await super().clear()

    def _arm(self, event: Event) -> None:
        offsets = self.default_offsets if event.remind is None else event.remind
        wanted = {(event.id, event.ts, o) for o in offsets} if event.ts > event.updated else set()
        for key, reminder in list(self.reminders.items()):
            if reminder.event_id != event.id or reminder.state != "pending":
                continue
            if key in wanted:
                self.reminders[key] = msgspec.structs.replace(
                    reminder, type=event.type, key=event.key
                )
            else:
                self.reminders[key] = msgspec.structs.replace(reminder, state="cancelled")
        for key in wanted:
            known = self.reminders.get(key)
            if known is None or known.state == "cancelled":
                id, ts, offset = key
                due = ts - offset * 1_000_000
                self.reminders[key] = Reminder(
                    id, ts, offset, due, event.updated, event.type, event.key
                )

    def _pending(self) -> list[Reminder]:
        return sorted(
            (r for r in self.reminders.values() if r.state == "pending"), key=lambda r: r.order
        )

    async def next_due(self) -> int | None:
        pending = self._pending()
        return pending[0].due if pending else None

    async def claim_due(self, now: int, limit: int, late_grace: int) -> list[Reminder]:
        claimed = []
        for reminder in [r for r in self._pending() if r.due <= now][:limit]:
            since = now - max(reminder.due, reminder.armed)
            key = (reminder.event_id, reminder.ts, reminder.offset)
            if now >= reminder.ts or since > late_grace:
                done = msgspec.structs.replace(reminder, state="missed", sent_at=now)
            else:
                done = msgspec.structs.replace(
                    reminder,
                    state="sent",
                    sent_at=now,
                    late=since > LATE_AFTER,
                    position=self._position + 1,
                )
                self._position += 1
                self._written(self._position)
                event = self._by_id[reminder.event_id]
                self._feed.append(Change(self._position, "reminder", event, None, done))
                self._appended.set()
            self.reminders[key] = done
            claimed.append(done)
        return claimed

    async def list_reminders(self, query: ReminderQuery) -> ReminderPage:
        chosen = [
            r
            for r in sorted(self.reminders.values(), key=lambda r: r.order)
            if r.state == query.state
            and (query.start is None or r.due >= query.start)
            and (query.end is None or r.due <= query.end)
            and (query.type is None or r.type == query.type)
            and (query.key is None or r.key == query.key)
            and (query.after is None or r.order > query.after)
        ]
        return ReminderPage(chosen[: query.limit], more=len(chosen) > query.limit)

    async def event_reminders(self, event_id: str) -> list[Reminder]:
        return sorted(
            (r for r in self.reminders.values() if r.event_id == event_id), key=lambda r: r.order
        )
