"""The `Reminders` capability, checked identically on every engine that has it.

Time is injected: the engines take `now` as an argument, and an event's `updated` is the
time of the write that armed its reminders. An engine without the capability skips.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from eventd.model import NULL, Event
from eventd.store.base import (
    LATE_AFTER,
    Change,
    Engine,
    Reminder,
    ReminderQuery,
    Reminders,
)
from eventd.times import parse_timestamp

SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
W = parse_timestamp("2025-01-01T00:00:00Z", None)  # when the events are written
T = W + HOUR  # when they start
DUE = T - 5 * MINUTE  # the default offset's due time
GRACE = HOUR  # late_grace, unless a test says otherwise


class RemindingEngine(Engine, Reminders):
    """An engine with the capability, for the type checker."""


@pytest.fixture
def reng(engine: Engine) -> Any:
    """The opened engine, if it keeps reminders; the test skips otherwise."""
    if not isinstance(engine, Reminders):
        pytest.skip(
            f"the {engine.name} engine does not implement Reminders yet "
            "(tests/store/test_reminders.py runs on it once it does)"
        )
    return engine


def ev(
    id: str,
    ts: int = T,
    *,
    updated: int = W,
    remind: tuple[int, ...] | None = None,
    **fields: Any,
) -> Event:
    values: dict[str, Any] = dict(type="meeting", key=None, title=None, description=None)
    values.update(fields)
    return Event(
        id=id,
        ts=ts,
        seq=-1,
        value=None,
        data=NULL,
        remind=remind,
        created=updated,
        updated=updated,
        **values,
    )


async def put(engine: RemindingEngine, *events: Event) -> None:
    await engine.put_many(events)


def states(reminders: Sequence[Reminder]) -> list[tuple[str, int, int, str]]:
    """(event_id, ts, offset in seconds, state) of each reminder."""
    return [(r.event_id, r.ts, r.offset, r.state) for r in reminders]


async def claim(engine: RemindingEngine, now: int, limit: int = 100) -> list[Reminder]:
    return await engine.claim_due(now, limit, GRACE)


async def changes_after(engine: RemindingEngine, after: int) -> list[Change]:
    return (await engine.read_changes(after, 1000)).changes


async def head(engine: RemindingEngine) -> int:
    return (await engine.read_changes(0, 1)).head


async def listed(engine: RemindingEngine, **query: Any) -> list[tuple[str, int, int, str]]:
    page = await engine.list_reminders(ReminderQuery(limit=1000, **query))
    assert not page.more
    return states(page.reminders)


# Arming


async def test_an_event_gets_the_default_offsets_when_remind_is_null(reng: RemindingEngine) -> None:
    await put(reng, ev("a", key="k", title="Standup"))
    [reminder] = await reng.event_reminders("a")
    assert reminder == Reminder(
        event_id="a", ts=T, offset=300, due=DUE, armed=W, type="meeting", key="k"
    )
    assert reminder.state == "pending" and reminder.sent_at is None and not reminder.late
    assert reminder.position is None
    assert await reng.next_due() == DUE


async def test_remind_overrides_the_defaults(reng: RemindingEngine) -> None:
    await put(reng, ev("a", remind=(3600, 60)))
    assert states(await reng.event_reminders("a")) == [
        ("a", T, 3600, "pending"),
        ("a", T, 60, "pending"),
    ]
    assert await reng.next_due() == T - HOUR


async def test_an_empty_remind_arms_none(reng: RemindingEngine) -> None:
    await put(reng, ev("a", remind=()))
    assert await reng.event_reminders("a") == []
    assert await reng.next_due() is None
    assert await claim(reng, T) == []


@pytest.mark.parametrize("ts", [W - SECOND, W], ids=["before", "at"])
async def test_an_event_that_started_before_the_write_gets_none(
    reng: RemindingEngine, ts: int
) -> None:
    await put(reng, ev("a", ts))
    assert await reng.event_reminders("a") == []
    assert await reng.next_due() is None
    assert await claim(reng, ts + HOUR) == []


async def test_same_content_put_changes_nothing(reng: RemindingEngine) -> None:
    await put(reng, ev("a", remind=(600,)))
    before = await reng.event_reminders("a")
    position = await head(reng)
    again = await reng.put_many([ev("a", remind=(600,), updated=W + MINUTE)])
    assert again[0].created is False
    assert await reng.event_reminders("a") == before  # `armed` too: no new write happened
    [sent] = await claim(reng, T - 10 * MINUTE)
    await reng.put_many([ev("a", remind=(600,), updated=W + 2 * MINUTE)])
    assert await reng.event_reminders("a") == [sent]
    assert [c.op for c in await changes_after(reng, position)] == ["reminder"]


async def test_the_next_due_is_the_earliest_pending(reng: RemindingEngine) -> None:
    assert await reng.next_due() is None
    await put(reng, ev("late", T + HOUR), ev("soon", T, remind=(3600, 60)))
    assert await reng.next_due() == T - HOUR
    await claim(reng, T - HOUR)
    assert await reng.next_due() == T - MINUTE


# Claiming


async def test_a_reminder_is_due_exactly_at_its_due_time_not_before(reng: RemindingEngine) -> None:
    await put(reng, ev("a"))
    assert await claim(reng, DUE - 1) == []
    assert states(await reng.event_reminders("a")) == [("a", T, 300, "pending")]
    [sent] = await claim(reng, DUE)
    assert (sent.state, sent.sent_at, sent.late) == ("sent", DUE, False)
    assert (sent.event_id, sent.ts, sent.offset, sent.due, sent.armed) == ("a", T, 300, DUE, W)
    assert sent.position is not None
    assert await reng.event_reminders("a") == [sent]
    assert await reng.next_due() is None


async def test_a_reminder_is_claimed_exactly_once(reng: RemindingEngine) -> None:
    await put(reng, ev("a"))
    position = await head(reng)
    assert len(await claim(reng, DUE)) == 1
    assert await claim(reng, DUE) == []
    assert await claim(reng, DUE + MINUTE) == []
    assert [c.op for c in await changes_after(reng, position)] == ["reminder"]


async def test_claims_take_at_most_limit_in_due_order(reng: RemindingEngine) -> None:
    await put(reng, ev("b", T + 2 * SECOND), ev("a", T), ev("c", T + SECOND))
    now = T + 2 * SECOND - 5 * MINUTE
    first = await reng.claim_due(now, 2, GRACE)
    assert [r.event_id for r in first] == ["a", "c"]
    second = await reng.claim_due(now, 2, GRACE)
    assert [r.event_id for r in second] == ["b"]
    assert await reng.claim_due(now, 2, GRACE) == []


async def test_equal_due_times_are_ordered_by_event_id(reng: RemindingEngine) -> None:
    # "b" starts a minute later with a minute's longer offset: both are due at DUE.
    await put(reng, ev("b", T + MINUTE, remind=(360,)), ev("a", T))
    claimed = await claim(reng, DUE)
    assert [(r.event_id, r.due) for r in claimed] == [("a", DUE), ("b", DUE)]


async def test_the_immediate_case_is_claimed_at_once_and_not_late(reng: RemindingEngine) -> None:
    # Written two minutes before it starts, with a five-minute offset: due 3 minutes ago.
    await put(reng, ev("a", W + 2 * MINUTE))
    [pending] = await reng.event_reminders("a")
    assert pending.due == W - 3 * MINUTE and pending.armed == W
    assert await reng.next_due() == W - 3 * MINUTE
    [sent] = await claim(reng, W + SECOND // 2)
    assert (sent.state, sent.late) == ("sent", False)


async def test_several_offsets_are_claimed_in_due_order(reng: RemindingEngine) -> None:
    await put(reng, ev("a", remind=(60, 3600, 600)))
    position = await head(reng)
    claimed = []
    for now in (T - HOUR, T - 10 * MINUTE, T - MINUTE):
        claimed += await claim(reng, now)
    assert [(r.offset, r.state, r.sent_at) for r in claimed] == [
        (3600, "sent", T - HOUR),
        (600, "sent", T - 10 * MINUTE),
        (60, "sent", T - MINUTE),
    ]
    feed = await changes_after(reng, position)
    assert [c.reminder.offset for c in feed if c.reminder is not None] == [3600, 600, 60]


async def test_several_offsets_due_together_come_in_due_order(reng: RemindingEngine) -> None:
    await put(reng, ev("a", remind=(60, 3600, 600)))
    claimed = await claim(reng, T - MINUTE)
    assert [r.offset for r in claimed] == [3600, 600, 60]
    assert [r.late for r in claimed] == [True, True, False]
    positions = [r.position or 0 for r in claimed]
    assert positions == sorted(positions) and 0 not in positions


async def test_a_reminder_is_late_beyond_late_after(reng: RemindingEngine) -> None:
    await put(reng, ev("a"), ev("b", T + 1))
    [on_time] = await reng.claim_due(DUE + LATE_AFTER, 1, GRACE)
    assert (on_time.event_id, on_time.state, on_time.late) == ("a", "sent", False)
    [late] = await reng.claim_due(DUE + 1 + LATE_AFTER + 1, 1, GRACE)
    assert (late.event_id, late.state, late.late) == ("b", "sent", True)


async def test_lateness_counts_from_the_arming_write_when_later(reng: RemindingEngine) -> None:
    await put(reng, ev("a", W + 2 * MINUTE), ev("b", W + 2 * MINUTE + 1))
    [on_time] = await reng.claim_due(W + LATE_AFTER, 1, GRACE)
    assert (on_time.event_id, on_time.late) == ("a", False)
    [late] = await reng.claim_due(W + LATE_AFTER + 1, 1, GRACE)
    assert (late.event_id, late.late) == ("b", True)


async def test_a_reminder_of_an_event_that_started_is_missed(reng: RemindingEngine) -> None:
    await put(reng, ev("a"), ev("b", T + SECOND))
    position = await head(reng)
    claimed = await claim(reng, T)
    assert [(r.event_id, r.state, r.sent_at) for r in claimed] == [
        ("a", "missed", T),
        ("b", "sent", T),
    ]
    assert claimed[0].position is None
    assert await claim(reng, T + HOUR) == []
    assert [c.reminder.event_id for c in await changes_after(reng, position) if c.reminder] == ["b"]


async def test_a_reminder_past_late_grace_is_missed(reng: RemindingEngine) -> None:
    await put(reng, ev("a", remind=(1800,)), ev("b", T + 1, remind=(1800,)))
    due = T - 30 * MINUTE
    grace = 10 * MINUTE
    [sent] = await reng.claim_due(due + grace, 1, grace)
    assert (sent.event_id, sent.state, sent.late) == ("a", "sent", True)
    [missed] = await reng.claim_due(due + 1 + grace + 1, 10, grace)
    assert (missed.event_id, missed.state, missed.sent_at) == ("b", "missed", due + grace + 2)
    assert not missed.late


async def test_late_grace_counts_from_the_arming_write_when_later(reng: RemindingEngine) -> None:
    await put(reng, ev("a", W + 2 * MINUTE), ev("b", W + 2 * MINUTE + 1))
    [sent] = await reng.claim_due(W + 10 * SECOND, 1, 10 * SECOND)
    assert (sent.event_id, sent.state) == ("a", "sent")
    [missed] = await reng.claim_due(W + 10 * SECOND + 1, 1, 10 * SECOND)
    assert (missed.event_id, missed.state) == ("b", "missed")


# The feed


async def test_a_sent_reminder_is_a_change_of_the_feed(reng: RemindingEngine) -> None:
    await put(reng, ev("a", title="Standup"))
    stored = await reng.get("a")
    position = await head(reng)
    [sent] = await claim(reng, DUE)
    assert sent.position == position + 1
    [change] = await changes_after(reng, position)
    assert change.position == position + 1
    assert change.op == "reminder"
    assert change.event == stored
    assert change.reminder == sent
    assert change.epoch is None
    assert reng.written_position == position + 1


async def test_reminder_positions_are_consecutive_with_other_changes(
    reng: RemindingEngine,
) -> None:
    start = await head(reng)
    await put(reng, ev("a"), ev("b", T + HOUR))
    await claim(reng, DUE)
    await reng.update("b", {"title": "moved on"}, W + MINUTE)
    await reng.delete("b")
    feed = await changes_after(reng, start)
    assert [c.op for c in feed] == ["created", "created", "reminder", "updated", "deleted"]
    assert [c.position for c in feed] == list(range(start + 1, start + 6))
    assert feed[2].reminder is not None and feed[2].reminder.position == start + 3


async def test_a_reminder_change_carries_the_event_as_stored_when_claimed(
    reng: RemindingEngine,
) -> None:
    await put(reng, ev("a", title="old"))
    edited = await reng.update("a", {"title": "new"}, W + MINUTE)
    position = await head(reng)
    await claim(reng, DUE)
    [change] = await changes_after(reng, position)
    assert change.event == edited


async def test_wait_changes_wakes_for_a_reminder(reng: RemindingEngine) -> None:
    await put(reng, ev("a"))
    position = await head(reng)
    await claim(reng, DUE)
    changes = await reng.wait_changes(position, 5.0)
    assert [c.op for c in changes] == ["reminder"]


# Edits and deletes


async def test_moving_an_event_cancels_the_old_and_arms_the_new(reng: RemindingEngine) -> None:
    await put(reng, ev("a"))
    await reng.update("a", {"ts": T + HOUR}, W + MINUTE)
    assert states(await reng.event_reminders("a")) == [
        ("a", T, 300, "cancelled"),
        ("a", T + HOUR, 300, "pending"),
    ]
    new = (await reng.event_reminders("a"))[1]
    assert new.armed == W + MINUTE and new.due == DUE + HOUR
    assert await reng.next_due() == DUE + HOUR
    assert await claim(reng, DUE) == []
    [sent] = await claim(reng, DUE + HOUR)
    assert (sent.ts, sent.state) == (T + HOUR, "sent")


async def test_moving_an_event_back_arms_the_cancelled_reminder_again(
    reng: RemindingEngine,
) -> None:
    await put(reng, ev("a"))
    await reng.update("a", {"ts": T + HOUR}, W + MINUTE)
    await reng.update("a", {"ts": T}, W + 2 * MINUTE)
    assert states(await reng.event_reminders("a")) == [
        ("a", T, 300, "pending"),
        ("a", T + HOUR, 300, "cancelled"),
    ]
    again = (await reng.event_reminders("a"))[0]
    assert again.armed == W + 2 * MINUTE and again.sent_at is None
    [sent] = await claim(reng, DUE)
    assert (sent.ts, sent.state) == (T, "sent")


async def test_moving_an_event_into_the_past_cancels_and_arms_nothing(
    reng: RemindingEngine,
) -> None:
    await put(reng, ev("a"))
    await reng.update("a", {"ts": W}, W + MINUTE)
    assert states(await reng.event_reminders("a")) == [("a", T, 300, "cancelled")]
    assert await reng.next_due() is None


async def test_changing_remind_takes_effect_at_once(reng: RemindingEngine) -> None:
    await put(reng, ev("a"))
    await reng.update("a", {"remind": (600, 300)}, W + MINUTE)
    reminders = await reng.event_reminders("a")
    assert states(reminders) == [("a", T, 600, "pending"), ("a", T, 300, "pending")]
    assert [r.armed for r in reminders] == [W + MINUTE, W]  # the staying one is not re-armed
    await reng.update("a", {"remind": (60,)}, W + 2 * MINUTE)
    assert states(await reng.event_reminders("a")) == [
        ("a", T, 600, "cancelled"),
        ("a", T, 300, "cancelled"),
        ("a", T, 60, "pending"),
    ]
    await reng.update("a", {"remind": ()}, W + 3 * MINUTE)
    assert [r.state for r in await reng.event_reminders("a")] == ["cancelled"] * 3
    assert await claim(reng, T - SECOND) == []


async def test_null_remind_returns_to_the_defaults(reng: RemindingEngine) -> None:
    await put(reng, ev("a", remind=()))
    await reng.update("a", {"remind": None}, W + MINUTE)
    assert states(await reng.event_reminders("a")) == [("a", T, 300, "pending")]


async def test_an_edit_keeps_a_sent_reminder_sent(reng: RemindingEngine) -> None:
    await put(reng, ev("a", title="Standup"))
    [sent] = await claim(reng, DUE)
    position = await head(reng)
    await reng.update("a", {"title": "Stand-up"}, DUE + SECOND)
    assert await reng.event_reminders("a") == [sent]
    assert await claim(reng, T - SECOND) == []
    assert [c.op for c in await changes_after(reng, position)] == ["updated"]


async def test_an_edit_keeps_a_missed_reminder_missed(reng: RemindingEngine) -> None:
    await put(reng, ev("a"))
    [missed] = await reng.claim_due(DUE + 2 * SECOND, 10, SECOND)
    assert missed.state == "missed"
    await reng.update("a", {"title": "renamed"}, DUE + 3 * SECOND)
    assert await reng.event_reminders("a") == [missed]


async def test_an_edit_keeps_a_pending_reminder_as_armed(reng: RemindingEngine) -> None:
    await put(reng, ev("a", key="k"))
    await reng.update("a", {"type": "standup", "key": "team"}, W + MINUTE)
    [pending] = await reng.event_reminders("a")
    assert (pending.state, pending.armed) == ("pending", W)
    assert (pending.type, pending.key) == ("standup", "team")
    assert await listed(reng, type="standup", key="team") == [("a", T, 300, "pending")]
    assert await listed(reng, type="meeting") == []
    assert await listed(reng, key="k") == []


async def test_an_edit_after_the_start_keeps_a_pending_reminder_to_be_missed(
    reng: RemindingEngine,
) -> None:
    # No claim ran while it fell due and the event started (no daemon was up): an edit of
    # another field neither cancels it (it is still in the event's set) nor sends it.
    await put(reng, ev("a"))
    await reng.update("a", {"title": "renamed"}, T + MINUTE)
    assert states(await reng.event_reminders("a")) == [("a", T, 300, "pending")]
    [missed] = await claim(reng, T + 2 * MINUTE)
    assert (missed.state, missed.sent_at) == ("missed", T + 2 * MINUTE)


async def test_an_edit_leaves_type_and_key_of_a_sent_reminder(reng: RemindingEngine) -> None:
    await put(reng, ev("a", key="k"))
    await claim(reng, DUE)
    await reng.update("a", {"type": "standup", "key": None}, DUE + SECOND)
    [sent] = await reng.event_reminders("a")
    assert (sent.type, sent.key) == ("meeting", "k")
    assert await listed(reng, state="sent", type="meeting", key="k") == [("a", T, 300, "sent")]


async def test_deleting_an_event_cancels_its_reminders(reng: RemindingEngine) -> None:
    await put(reng, ev("a", remind=(600, 60)), ev("b", T + HOUR))
    await claim(reng, T - 10 * MINUTE)
    await reng.delete("a")
    assert states(await reng.event_reminders("a")) == [
        ("a", T, 600, "sent"),
        ("a", T, 60, "cancelled"),
    ]
    assert await reng.next_due() == DUE + HOUR
    assert [r.event_id for r in await claim(reng, T + HOUR)] == ["b"]


async def test_a_deleted_event_put_again_gets_its_cancelled_reminders_only(
    reng: RemindingEngine,
) -> None:
    await put(reng, ev("a", remind=(600, 60)))
    await claim(reng, T - 10 * MINUTE)
    await reng.delete("a")
    await put(reng, ev("a", remind=(600, 60), updated=W + MINUTE))
    reminders = await reng.event_reminders("a")
    assert states(reminders) == [("a", T, 600, "sent"), ("a", T, 60, "pending")]
    assert reminders[1].armed == W + MINUTE


async def test_clear_deletes_every_reminder(reng: RemindingEngine) -> None:
    await put(reng, ev("a", remind=(600, 60)), ev("b"), ev("c"))
    await claim(reng, T - 10 * MINUTE)
    await reng.delete("c")
    await reng.clear()
    for id in "abc":
        assert await reng.event_reminders(id) == []
    for state in ("pending", "sent", "missed", "cancelled"):
        assert await listed(reng, state=state) == []
    assert await reng.next_due() is None
    assert await claim(reng, T + HOUR) == []


async def test_an_event_created_again_after_a_clear_sends_its_reminder_again(
    reng: RemindingEngine,
) -> None:
    # The feed keeps what came before the clear, the sent reminder of the same identity too:
    # the new event's reminder is a change of its own, at its own position.
    await put(reng, ev("a"))
    [first] = await claim(reng, DUE)
    await reng.clear()
    await put(reng, ev("a"))
    start = await head(reng)
    [again] = await claim(reng, DUE)
    assert again.state == "sent" and again.position == start + 1 != first.position
    [change] = await changes_after(reng, start)
    assert change.reminder == again


async def test_unknown_ids_do_nothing(reng: RemindingEngine) -> None:
    assert await reng.update("nope", {"title": "x"}, W) is None
    assert await reng.delete("nope") is None
    assert await reng.event_reminders("nope") == []
    assert await reng.next_due() is None


# Listing


async def test_list_reminders_by_state(reng: RemindingEngine) -> None:
    await put(reng, ev("a-sent"), ev("b-pending"), ev("c-cancelled"), ev("d-missed", T - MINUTE))
    await reng.delete("c-cancelled")
    await reng.claim_due(DUE - MINUTE + 1, 10, 0)  # "d-missed" was due a microsecond before
    await reng.claim_due(DUE, 1, GRACE)  # "a-sent" comes first in due order
    assert await listed(reng) == [("b-pending", T, 300, "pending")]
    assert await listed(reng, state="sent") == [("a-sent", T, 300, "sent")]
    assert await listed(reng, state="missed") == [("d-missed", T - MINUTE, 300, "missed")]
    assert await listed(reng, state="cancelled") == [("c-cancelled", T, 300, "cancelled")]


async def test_list_reminders_in_due_order_within_start_and_end(reng: RemindingEngine) -> None:
    await put(reng, *[ev(f"e{i}", T + i * MINUTE) for i in range(5)])
    assert [r[0] for r in await listed(reng)] == ["e0", "e1", "e2", "e3", "e4"]
    inside = await listed(reng, start=DUE + MINUTE, end=DUE + 3 * MINUTE)
    assert [r[0] for r in inside] == ["e1", "e2", "e3"]
    assert [r[0] for r in await listed(reng, start=DUE + MINUTE + 1)] == ["e2", "e3", "e4"]
    assert [r[0] for r in await listed(reng, end=DUE + MINUTE - 1)] == ["e0"]


async def test_list_reminders_by_type_and_key(reng: RemindingEngine) -> None:
    await put(
        reng,
        ev("1", T + 1, type="deploy", key="web"),
        ev("2", T + 2, type="deploy", key="db"),
        ev("3", T + 3, type="alert", key="web"),
        ev("4", T + 4, type="deploy"),
    )
    assert [r[0] for r in await listed(reng, type="deploy")] == ["1", "2", "4"]
    assert [r[0] for r in await listed(reng, key="web")] == ["1", "3"]
    assert [r[0] for r in await listed(reng, type="deploy", key="web")] == ["1"]
    assert await listed(reng, type="nothing") == []
    assert await listed(reng, type="deploy", state="sent") == []


async def test_list_reminders_pages_by_keyset(reng: RemindingEngine) -> None:
    # Equal due times, several offsets: the order is (due, event_id, offset).
    await put(reng, *[ev(name, remind=(600, 300)) for name in "dcba"])
    seen: list[tuple[str, int]] = []
    after = None
    for _ in range(100):  # bounded: a cursor that does not advance fails
        page = await reng.list_reminders(ReminderQuery(after=after, limit=3))
        seen += [(r.event_id, r.offset) for r in page.reminders]
        if not page.more:
            break
        after = page.reminders[-1].order
    expected = [(name, 600) for name in "abcd"] + [(name, 300) for name in "abcd"]
    assert seen == expected
    page = await reng.list_reminders(ReminderQuery(limit=8))
    assert not page.more and len(page.reminders) == 8


async def test_list_reminders_after_combines_with_start(reng: RemindingEngine) -> None:
    await put(reng, *[ev(f"e{i}", T + i * MINUTE) for i in range(4)])
    early = (DUE, "e0", 300)
    assert [r[0] for r in await listed(reng, start=DUE + 2 * MINUTE, after=early)] == [
        "e2",
        "e3",
    ]
    later = (DUE + 2 * MINUTE, "e2", 300)
    assert [r[0] for r in await listed(reng, start=DUE, after=later)] == ["e3"]
    assert [r[0] for r in await listed(reng, end=DUE + MINUTE, after=early)] == ["e1"]


async def test_list_reminders_limit_and_more(reng: RemindingEngine) -> None:
    await put(reng, *[ev(f"e{i}", T + i) for i in range(3)])
    page = await reng.list_reminders(ReminderQuery(limit=2))
    assert [r.event_id for r in page.reminders] == ["e0", "e1"] and page.more
    page = await reng.list_reminders(ReminderQuery(limit=3))
    assert len(page.reminders) == 3 and not page.more


async def test_event_reminders_lists_every_state_in_due_order(reng: RemindingEngine) -> None:
    await put(reng, ev("a", remind=(3600, 600, 60)))
    await reng.claim_due(T - 10 * MINUTE, 10, 30 * MINUTE)  # 3600: missed, 600: sent
    await reng.update("a", {"remind": (3600, 600, 120)}, T - 9 * MINUTE)
    assert states(await reng.event_reminders("a")) == [
        ("a", T, 3600, "missed"),
        ("a", T, 600, "sent"),
        ("a", T, 120, "pending"),
        ("a", T, 60, "cancelled"),
    ]
