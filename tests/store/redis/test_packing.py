"""Members sort as events do, and a query's range selects what it asks for."""

from __future__ import annotations

import msgspec
from hypothesis import assume, given
from hypothesis import strategies as st

from eventd.store.base import Query
from eventd.store.redis.packing import ID_OFFSET, bounds, member
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
