"""The engine contract, checked identically on every engine."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from eventd.model import NULL, Event
from eventd.store.base import Engine, IdConflict, Query
from eventd.times import parse_timestamp

T0 = parse_timestamp("2025-01-01T00:00:00Z", None)
SECOND = 1_000_000


def ev(id: str, ts: int = T0, **fields: object) -> Event:
    values: dict[str, object] = dict(
        type="event", key=None, title=None, description=None, value=None, data=NULL, remind=None
    )
    values.update(fields)
    return Event(id=id, ts=ts, seq=-1, created=T0, updated=T0, **values)  # type: ignore[arg-type]


async def ids(engine: Engine, **query: object) -> list[str]:
    page = await engine.query(Query(limit=1000, **query))  # type: ignore[arg-type]
    return [event.id for event in page.events]


async def test_put_assigns_increasing_seq_in_given_order(engine: Engine) -> None:
    results = await engine.put_many([ev("a"), ev("b"), ev("c")])
    assert [r.created for r in results] == [True, True, True]
    seqs = [r.event.seq for r in results]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert await engine.get("b") == results[1].event


async def test_get_unknown_is_none(engine: Engine) -> None:
    assert await engine.get("missing") is None


async def test_same_id_same_content_is_not_written_again(engine: Engine) -> None:
    first = (await engine.put_many([ev("a", value=1.0)]))[0].event
    again = await engine.put_many([ev("a", value=1.0)])
    assert again[0].created is False
    assert again[0].event == first
    assert await engine.count(Query()) == 1


async def test_same_id_other_content_conflicts_and_writes_nothing(engine: Engine) -> None:
    await engine.put_many([ev("a", value=1.0)])
    with pytest.raises(IdConflict) as raised:
        await engine.put_many([ev("new"), ev("a", value=2.0)])
    assert (raised.value.index, raised.value.id) == (1, "a")
    assert await engine.get("new") is None
    assert (await engine.get("a")).value == 1.0  # type: ignore[union-attr]


async def test_duplicate_ids_inside_one_batch(engine: Engine) -> None:
    results = await engine.put_many([ev("a"), ev("a")])
    assert [r.created for r in results] == [True, False]
    with pytest.raises(IdConflict):
        await engine.put_many([ev("b"), ev("b", type="other")])
    assert await engine.get("b") is None


async def test_data_key_order_does_not_make_content_different(engine: Engine) -> None:
    await engine.put_many([ev("a", data=msgspec.Raw(b'{"x":1,"y":2}'))])
    again = await engine.put_many([ev("a", data=msgspec.Raw(b'{"y":2,"x":1}'))])
    assert again[0].created is False


async def test_order_is_timestamp_then_insertion(engine: Engine) -> None:
    await engine.put_many([ev("late", T0 + 5), ev("t1", T0), ev("t2", T0), ev("early", T0 - 5)])
    await engine.put_many([ev("t3", T0)])
    assert await ids(engine) == ["early", "t1", "t2", "t3", "late"]
    assert await ids(engine, order="desc") == ["late", "t3", "t2", "t1", "early"]


async def test_start_and_end_are_inclusive(engine: Engine) -> None:
    await engine.put_many([ev(str(i), T0 + i * SECOND) for i in range(5)])
    assert await ids(engine, start=T0 + SECOND, end=T0 + 3 * SECOND) == ["1", "2", "3"]
    assert await ids(engine, start=T0 + 3 * SECOND, order="desc") == ["4", "3"]
    assert await ids(engine, end=T0 + SECOND, order="desc") == ["1", "0"]


async def test_sub_second_precision_in_ranges(engine: Engine) -> None:
    await engine.put_many([ev("b", T0 + 500_000), ev("a", T0 + 200_000)])
    assert await ids(engine, start=T0, end=T0 + 300_000) == ["a"]
    assert await ids(engine, start=T0 + 200_001) == ["b"]
    stored = await engine.get("b")
    assert stored is not None and stored.ts == T0 + 500_000


async def test_filters_by_type_key_and_both(engine: Engine) -> None:
    await engine.put_many(
        [
            ev("1", T0 + 1, type="deploy", key="web"),
            ev("2", T0 + 2, type="deploy", key="db"),
            ev("3", T0 + 3, type="alert", key="web"),
            ev("4", T0 + 4, type="deploy"),
        ]
    )
    assert await ids(engine, type="deploy") == ["1", "2", "4"]
    assert await ids(engine, key="web") == ["1", "3"]
    assert await ids(engine, type="deploy", key="web") == ["1"]
    assert await ids(engine, type="nothing") == []
    assert await ids(engine, type="deploy", start=T0 + 2, end=T0 + 3) == ["2"]


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_keyset_pages_of_equal_timestamps(engine: Engine, order: str) -> None:
    await engine.put_many([ev(name) for name in "abcd"])
    seen, after, pages = [], None, 0
    for _ in range(100):  # bounded: a cursor that does not advance fails
        page = await engine.query(Query(after=after, order=order, limit=2))  # type: ignore[arg-type]
        seen += [event.id for event in page.events]
        pages += 1
        if not page.more:
            break
        after = page.events[-1].position
    else:
        raise AssertionError("the pages never ended")
    assert seen == (list("abcd") if order == "asc" else list("dcba"))
    assert pages == 2


async def test_cursor_after_a_deleted_event_still_continues(engine: Engine) -> None:
    await engine.put_many([ev(str(i), T0 + i) for i in range(6)])
    first = await engine.query(Query(limit=3))
    await engine.delete("2")
    await engine.delete("3")
    rest = await engine.query(Query(after=first.events[-1].position, limit=10))
    assert [e.id for e in rest.events] == ["4", "5"]


async def test_update_moves_event_and_keeps_seq_and_created(engine: Engine) -> None:
    await engine.put_many([ev("a", T0), ev("b", T0 + 10), ev("c", T0 + 20)])
    before = await engine.get("a")
    moved = await engine.update("a", {"ts": T0 + 15, "type": "moved"}, updated=T0 + 99)
    assert moved is not None and before is not None
    assert (moved.seq, moved.created, moved.updated) == (before.seq, before.created, T0 + 99)
    assert await ids(engine) == ["b", "a", "c"]
    assert await ids(engine, type="moved") == ["a"]
    assert await ids(engine, type="event") == ["b", "c"]
    assert await ids(engine, end=T0 + 5) == []


async def test_update_of_key_updates_key_indexes(engine: Engine) -> None:
    await engine.put_many([ev("a", key="k1"), ev("b", key="k1")])
    await engine.update("a", {"key": "k2"}, updated=T0)
    await engine.update("b", {"key": None}, updated=T0)
    assert await ids(engine, key="k1") == []
    assert await ids(engine, key="k2") == ["a"]
    assert await ids(engine, type="event", key="k2") == ["a"]
    assert await engine.count(Query(key="k1")) == 0


async def test_update_and_delete_of_unknown_id(engine: Engine) -> None:
    assert await engine.update("missing", {"value": 1.0}, updated=T0) is None
    assert await engine.delete("missing") is None


async def test_delete_removes_from_every_index(engine: Engine) -> None:
    await engine.put_many([ev("a", type="t", key="k"), ev("b", type="t", key="k")])
    deleted = await engine.delete("a")
    assert deleted is not None and deleted.id == "a"
    assert await engine.get("a") is None
    for query in ({}, {"type": "t"}, {"key": "k"}, {"type": "t", "key": "k"}):
        assert await ids(engine, **query) == ["b"]


async def test_count_honours_filters_and_range(engine: Engine) -> None:
    await engine.put_many(
        [ev(str(i), T0 + i, type="even" if i % 2 == 0 else "odd") for i in range(10)]
    )
    assert await engine.count(Query()) == 10
    assert await engine.count(Query(type="even")) == 5
    assert await engine.count(Query(start=T0 + 2, end=T0 + 5)) == 4
    assert await engine.count(Query(type="odd", start=T0 + 2, end=T0 + 5)) == 2
    assert await engine.count(Query(type="none")) == 0


async def test_clear(engine: Engine) -> None:
    await engine.put_many([ev("a"), ev("b")])
    assert await engine.clear() == 2
    assert await ids(engine) == []
    assert await engine.get("a") is None
    await engine.put_many([ev("a")])
    assert await ids(engine) == ["a"]


async def test_extreme_years(engine: Engine) -> None:
    first = parse_timestamp("0001-01-01T00:00:00Z", None)
    last = parse_timestamp("9999-12-31T23:59:59.999999Z", None)
    await engine.put_many([ev("last", last), ev("first", first), ev("now", T0)])
    assert await ids(engine) == ["first", "now", "last"]
    assert await ids(engine, start=last) == ["last"]


@pytest.mark.parametrize("first_seq", [1_000_000_000_000])
async def test_ordering_with_seq_beyond_a_million(engine: Engine, first_seq: int) -> None:
    results = await engine.put_many([ev("a", T0 + 1), ev("b", T0), ev("c", T0), ev("d", T0 - 1)])
    assert min(r.event.seq for r in results) >= first_seq
    assert await ids(engine) == ["d", "b", "c", "a"]
    assert await ids(engine, order="desc") == ["a", "c", "b", "d"]
    assert await ids(engine, start=T0, end=T0) == ["b", "c"]
    page = await engine.query(Query(limit=2))
    rest = await engine.query(Query(after=page.events[-1].position, limit=10))
    assert [e.id for e in rest.events] == ["c", "a"]


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_five_events_in_one_second_of_2300_one_per_page(engine: Engine, order: str) -> None:
    second = parse_timestamp("2300-06-01T00:00:00Z", None)
    offsets = [900_000, 0, 500_000, 500_000, 1]
    await engine.put_many([ev(f"e{i}", second + us) for i, us in enumerate(offsets)])
    seen, after = [], None
    for _ in range(100):  # bounded: a cursor that does not advance fails
        page = await engine.query(Query(after=after, order=order, limit=1))  # type: ignore[arg-type]
        seen += [e.id for e in page.events]
        if not page.more:
            break
        after = page.events[-1].position
    else:
        raise AssertionError("the pages never ended")
    expected = ["e1", "e4", "e2", "e3", "e0"]
    assert seen == (expected if order == "asc" else expected[::-1])


async def test_stored_fields_come_back_with_their_types(engine: Engine) -> None:
    given = ev(
        "42",
        T0 + 123_456,
        type="deploy",
        key="web",
        title="T",
        description="D",
        value=1.5,
        data=msgspec.Raw(b'{"n":12345678901234567890,"f":1.0,"s":"x","l":[true,null]}'),
        remind=(3600, 300),
    )
    [result] = await engine.put_many([given])
    stored = await engine.get("42")
    assert stored == result.event
    assert stored is not None
    assert isinstance(stored.id, str) and stored.id == "42"
    assert (stored.ts, stored.type, stored.key, stored.value) == (
        T0 + 123_456,
        "deploy",
        "web",
        1.5,
    )
    assert bytes(stored.data) == bytes(given.data)
    assert stored.remind == (3600, 300)
    [listed] = (await engine.query(Query())).events
    assert listed == stored


async def test_every_mutation_is_in_the_feed_in_order(engine: Engine) -> None:
    start = (await engine.read_changes(0, 1000)).head
    await engine.put_many([ev("a", type="x"), ev("b")])
    await engine.put_many([ev("a", type="x")])  # already stored: no change
    await engine.update("a", {"value": 2.0}, updated=T0 + 1)
    await engine.delete("b")
    await engine.clear()
    page = await engine.read_changes(start, 100)
    assert [c.position for c in page.changes] == list(range(start + 1, start + 6))
    assert [(c.op, c.event and c.event.id) for c in page.changes] == [
        ("created", "a"),
        ("created", "b"),
        ("updated", "a"),
        ("deleted", "b"),
        ("cleared", None),
    ]
    assert page.changes[2].event is not None and page.changes[2].event.value == 2.0
    assert page.head == start + 5
    assert (await engine.read_changes(start + 3, 1)).changes[0].op == "deleted"
    assert await engine.wait_changes(start + 5, 0.05) == []
    assert [c.position for c in await engine.wait_changes(start + 4, 1)] == [start + 5]


async def test_feed_reads_from_any_point_with_any_limit(engine: Engine) -> None:
    start = (await engine.read_changes(0, 1)).head
    await engine.put_many([ev(str(i)) for i in range(40)])
    positions = list(range(start + 1, start + 41))
    for after in (start, start + 1, start + 19, start + 20, start + 21, start + 38, start + 40):
        for limit in (1, 3, 25, 100):
            page = await engine.read_changes(after, limit)
            want = [p for p in positions if p > after][:limit]
            assert [c.position for c in page.changes] == want, (after, limit)


async def test_wait_changes_wakes_up_on_a_write(engine: Engine) -> None:
    head = (await engine.read_changes(0, 1)).head
    waiter = asyncio.create_task(engine.wait_changes(head, 5))
    await asyncio.sleep(0.05)
    await engine.put_many([ev("late")])
    changes = await waiter
    assert [(c.position, c.op) for c in changes] == [(head + 1, "created")]


@pytest.mark.parametrize("history", [3])
async def test_feed_keeps_a_bounded_history(engine: Engine, history: int) -> None:
    await engine.put_many([ev(str(i)) for i in range(300)])
    page = await engine.read_changes(0, 1000)
    assert page.head >= 300
    assert page.oldest > 1  # redis trims approximately, the others exactly to `history`
    assert page.changes[0].position == page.oldest
    assert page.changes[-1].position == page.head


async def test_the_feed_has_an_epoch_that_a_clear_renews(engine: Engine) -> None:
    epoch = await engine.feed_epoch()
    assert isinstance(epoch, str) and 8 <= len(epoch) <= 64
    await engine.put_many([ev("a")])
    await engine.update("a", {"value": 1.0}, updated=T0 + 1)
    assert await engine.feed_epoch() == epoch  # writes do not change it
    head = (await engine.read_changes(0, 1)).head
    await engine.clear()
    renewed = await engine.feed_epoch()
    assert renewed != epoch
    assert await engine.feed_epoch() == renewed
    await engine.put_many([ev("b")])
    # Positions go on growing across a clear; its change names the epoch that begins.
    page = await engine.read_changes(head, 10)
    assert [(c.position, c.op, c.epoch) for c in page.changes] == [
        (head + 1, "cleared", renewed),
        (head + 2, "created", None),
    ]
    waited = await engine.wait_changes(head, 1)
    assert [(c.op, c.epoch) for c in waited] == [("cleared", renewed), ("created", None)]
