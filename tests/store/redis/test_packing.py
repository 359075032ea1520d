"""Members sort as events and reminders do, and a query's range selects what it asks for."""

from __future__ import annotations

import msgspec
from hypothesis import assume, given
from hypothesis import strategies as st

from eventd.config import MAX_REMIND_OFFSET
from eventd.store.base import Query, ReminderPosition, ReminderQuery
from eventd.store.redis.packing import (
    DUE_WIDTH,
    ID_OFFSET,
    bounds,
    due_stamp,
    member,
    reminder_member,
    reminder_order,
    reminder_span,
)
from eventd.times import MAX_US, MIN_US
from tests.store.test_conformance import ev

timestamps = st.integers(MIN_US, MAX_US)
seqs = st.integers(0, 10**20 - 1)


@given(timestamps, seqs, timestamps, seqs)
def test_members_sort_in_ts_then_seq_order(ts1: int, seq1: int, ts2: int, seq2: int) -> None:
    assume((ts1, seq1) != (ts2, seq2))  # seqs are unique in a store
    first = member(msgspec.structs.replace(ev("a", ts1), seq=seq1))
    second = member(msgspec.structs.replace(ev("b", ts2), seq=seq2))
    assert (first < second) == ((ts1, seq1) < (ts2, seq2))


def test_the_id_begins_at_its_offset() -> None:
    assert member(msgspec.structs.replace(ev("the-id", 0), seq=7))[ID_OFFSET:] == "the-id"


@given(timestamps, seqs, st.sampled_from(["asc", "desc"]))
def test_a_cursor_excludes_its_own_event(ts: int, seq: int, order: str) -> None:
    at = member(msgspec.structs.replace(ev("x", ts), seq=seq))
    low, high = bounds(Query(after=(ts, seq), order=order))  # type: ignore[arg-type]
    if order == "asc":
        assert low[0] == "[" and at < low[1:] and high == "+"
    else:
        assert high[0] == "(" and at > high[1:] and low == "-"


# Reminders: every due time an event of years 1-9999 can have, offsets up to 366 days.
dues = st.integers(MIN_US - MAX_REMIND_OFFSET * 1_000_000, MAX_US)
event_ids = st.text(alphabet="ab-.:~_9Z", min_size=1, max_size=6)  # prefixes of one another
offsets = st.integers(1, MAX_REMIND_OFFSET)
orders = st.tuples(dues, event_ids, offsets)


@given(orders, orders)
def test_reminder_members_sort_in_due_then_id_then_offset_order(
    first: ReminderPosition, second: ReminderPosition
) -> None:
    assume(first != second)
    assert (reminder_member(first) < reminder_member(second)) == (first < second)


@given(orders)
def test_a_reminder_member_reads_back_as_its_order(order: ReminderPosition) -> None:
    assert reminder_order(reminder_member(order).encode()) == order


@given(dues, dues)
def test_reminder_times_sort_as_text_as_they_do_as_numbers(a: int, b: int) -> None:
    assert (due_stamp(a) < due_stamp(b)) == (a < b)
    assert len(due_stamp(a)) == DUE_WIDTH


@given(orders, st.sampled_from([None, -(10**19), 0, 10**19]), st.booleans())
def test_a_reminder_cursor_excludes_its_own_reminder(
    order: ReminderPosition, start: int | None, end: bool
) -> None:
    low, high = reminder_span(ReminderQuery(after=order, start=start, end=MAX_US if end else None))
    at = reminder_member(order)
    assert low[1:] >= at and (low[0] == "(" or low[1:] > at)
    assert high == "+" or at < high[1:]
