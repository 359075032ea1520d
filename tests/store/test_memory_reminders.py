"""The memory engine's own side of reminders: its settings and its store commands."""

from __future__ import annotations

import dataclasses

from eventd.config import Config, RemindersConfig
from eventd.store.base import ReminderQuery
from eventd.store.commands import ClaimDue, EventReminders, ListReminders, NextDue, PutMany
from eventd.store.memory import MemoryEngine
from eventd.store.worker import StoreWorker
from tests.store.test_reminders import DUE, GRACE, MINUTE, T, ev


def test_from_config_arms_the_configured_default_offsets() -> None:
    config = dataclasses.replace(Config(), reminders=RemindersConfig(default_offsets="1m, 1h"))
    assert MemoryEngine.from_config(config).default_offsets == (3600, 60)
    none = dataclasses.replace(Config(), reminders=RemindersConfig(default_offsets=""))
    assert MemoryEngine.from_config(none).default_offsets == ()
    assert MemoryEngine.from_config(Config()).default_offsets == (300,)


async def test_the_default_offsets_are_armed_for_a_null_remind() -> None:
    engine = MemoryEngine(default_offsets=(600, 60))
    await engine.put_many([ev("a"), ev("b", remind=(300,))])
    assert [r.offset for r in await engine.event_reminders("a")] == [600, 60]
    assert [r.offset for r in await engine.event_reminders("b")] == [300]
    silent = MemoryEngine(default_offsets=())
    await silent.put_many([ev("c")])
    assert await silent.event_reminders("c") == []


async def test_the_reminder_commands_run_through_the_worker() -> None:
    worker = StoreWorker(MemoryEngine())
    await worker.start()
    try:
        await worker.call(PutMany([ev("a"), ev("b", T + MINUTE)]))
        assert await worker.call(NextDue()) == DUE
        [sent] = await worker.call(ClaimDue(DUE, 10, GRACE))
        assert (sent.event_id, sent.state) == ("a", "sent")
        page = await worker.call(ListReminders(ReminderQuery()))
        assert [r.event_id for r in page.reminders] == ["b"]
        assert await worker.call(EventReminders("a")) == [sent]
    finally:
        await worker.stop(drain_timeout=1)
