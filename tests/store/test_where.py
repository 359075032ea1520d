"""Field-value search (`Query.where`), the same on every engine, with and without indexes.

Every test runs twice per engine: once with no field indexed (every clause is answered by a
scan of the narrowest other index) and once with the searched paths indexed.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventd.fields import MISSING, canonical, parse_path
from eventd.model import Event
from eventd.store import where as where_module
from eventd.store.base import Engine, Query
from tests.store.test_conformance import SECOND, T0, ev

INDEXED = ("status", "n", "/a.b", "a.b", "obj", "v", "value", "type")


@pytest.fixture(params=[(), INDEXED], ids=["scan", "indexed"])
def indexed_fields(request: pytest.FixtureRequest) -> tuple[str, ...]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(autouse=True)
def _both_ways(indexed_fields: tuple[str, ...]) -> None:
    """Put `indexed_fields` in every test's closure: the engines ask for it by name."""


def with_data(id: str, data: Any, ts: int = T0, **fields: Any) -> Event:
    return ev(id, ts, data=msgspec.Raw(msgspec.json.encode(data)), **fields)


async def found(engine: Engine, *clauses: tuple[str, Any], **query: Any) -> list[str]:
    paths = tuple((parse_path(path), value) for path, value in clauses)
    page = await engine.query(Query(limit=1000, where=paths, **query))
    counted = await engine.count(Query(where=paths, **query))
    ids = [event.id for event in page.events]
    assert counted == len(ids), "count and query disagree"
    return ids


async def test_numbers_and_strings_differ(engine: Engine) -> None:
    await engine.put_many(
        [
            with_data("int", {"n": 5}),
            with_data("str", {"n": "5"}),
            with_data("float", {"n": 5.0}),
            with_data("other", {"n": 6}),
        ]
    )
    assert await found(engine, ("n", 5)) == ["int", "float"]
    assert await found(engine, ("n", 5.0)) == ["int", "float"]
    assert await found(engine, ("n", "5")) == ["str"]


async def test_booleans_are_not_numbers(engine: Engine) -> None:
    await engine.put_many([with_data("true", {"n": True}), with_data("one", {"n": 1})])
    assert await found(engine, ("n", True)) == ["true"]
    assert await found(engine, ("n", 1)) == ["one"]


async def test_dotted_keys_and_nested_keys_do_not_collide(engine: Engine) -> None:
    await engine.put_many([with_data("dotted", {"a.b": 1}), with_data("nested", {"a": {"b": 2}})])
    assert await found(engine, ("/a.b", 1)) == ["dotted"]
    assert await found(engine, ("a.b", 2)) == ["nested"]
    assert await found(engine, ("/a/b", 2)) == ["nested"]
    assert await found(engine, ("a.b", 1)) == []
    assert await found(engine, ("/a.b", 2)) == []


async def test_null_matches_only_a_present_null(engine: Engine) -> None:
    await engine.put_many(
        [
            with_data("null", {"status": None}),
            with_data("absent", {"other": 1}),
            with_data("scalar", "status"),
            ev("no-data"),
        ]
    )
    assert await found(engine, ("status", None)) == ["null"]


async def test_objects_and_lists_match_by_json_equality(engine: Engine) -> None:
    await engine.put_many(
        [
            with_data("a", {"obj": {"x": 1, "y": [1, 2]}}),
            with_data("b", {"obj": {"y": [1.0, 2], "x": 1.0}}),
            with_data("c", {"obj": {"x": 1, "y": [2, 1]}}),
        ]
    )
    assert await found(engine, ("obj", {"y": [1, 2], "x": 1})) == ["a", "b"]
    assert await found(engine, ("obj.y.1", 1)) == ["c"]


async def test_event_fields_as_paths(engine: Engine) -> None:
    await engine.put_many(
        [
            ev("a", value=2.0, type="t1", title="hello"),
            ev("b", value=2.5, type="t2", title="hello"),
            with_data("c", {"value": 2}),
        ]
    )
    assert await found(engine, ("value", 2)) == ["a"]
    assert await found(engine, ("type", "t2")) == ["b"]
    assert await found(engine, ("title", "hello"), ("value", 2.5)) == ["b"]
    assert await found(engine, ("/value", 2)) == ["c"]


async def test_clauses_are_anded_and_combine_with_other_filters(engine: Engine) -> None:
    events = [
        with_data("1", {"status": "wait", "v": 1}, T0, type="job", key="k1"),
        with_data("2", {"status": "wait", "v": 2}, T0 + SECOND, type="job", key="k2"),
        with_data("3", {"status": "wait", "v": 1}, T0 + 2 * SECOND, type="order", key="k1"),
        with_data("4", {"status": "end", "v": 1}, T0 + 3 * SECOND, type="job", key="k1"),
        with_data("5", {"status": "wait", "v": 1}, T0 + 4 * SECOND, type="job", key="k1"),
    ]
    await engine.put_many(events)
    assert await found(engine, ("status", "wait")) == ["1", "2", "3", "5"]
    assert await found(engine, ("status", "wait"), ("v", 1)) == ["1", "3", "5"]
    assert await found(engine, ("v", 1), ("status", "wait"), type="job") == ["1", "5"]
    assert await found(engine, ("status", "wait"), key="k1", type="job") == ["1", "5"]
    assert await found(engine, ("status", "wait"), key="k2") == ["2"]
    assert await found(engine, ("status", "wait"), start=T0 + SECOND, end=T0 + 2 * SECOND) == [
        "2",
        "3",
    ]
    assert await found(engine, ("status", "wait"), order="desc", key="k1") == ["5", "3", "1"]
    assert await found(engine, ("status", "wait"), ("status", "end")) == []
    assert await found(engine, ("status", "nothing")) == []
    assert await found(engine, ("status", "wait"), type="none") == []


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_pages_across_inserts_between_pages(engine: Engine, order: str) -> None:
    # Matches every third event, so that a page spans many events read and skipped.
    await engine.put_many(
        [
            with_data(f"e{i:03}", {"status": "wait" if i % 3 == 0 else "run"}, T0 + i)
            for i in range(90)
        ]
    )
    seen: list[str] = []
    after = None
    clause = ((parse_path("status"), "wait"),)
    for round in range(100):  # bounded: a cursor that does not advance fails
        page = await engine.query(Query(where=clause, after=after, order=order, limit=4))  # type: ignore[arg-type]
        seen += [event.id for event in page.events]
        assert all(bytes(e.data) == b'{"status":"wait"}' for e in page.events)
        # Inserted behind the cursor: never seen; ahead of it: seen once, in order.
        behind = T0 - 1 - round if order == "asc" else T0 + 1000 + round
        ahead = T0 + 1000 + round if order == "asc" else T0 - 1 - round
        await engine.put_many(
            [
                with_data(f"behind{round}", {"status": "wait"}, behind),
                with_data(f"ahead{round}", {"status": "wait"}, ahead),
            ]
        )
        if not page.more:
            break
        after = page.events[-1].position
    else:
        raise AssertionError("the pages never ended")
    original = [f"e{i:03}" for i in range(0, 90, 3)]
    assert [id for id in seen if id.startswith("e")] == (
        original if order == "asc" else original[::-1]
    )
    assert not any(id.startswith("behind") for id in seen)
    aheads = [id for id in seen if id.startswith("ahead")]
    assert len(aheads) == len(set(aheads)) > 0


async def test_an_update_moves_an_event_in_and_out_of_the_results(engine: Engine) -> None:
    await engine.put_many(
        [with_data("a", {"status": "wait"}, T0), with_data("b", {"status": "run"}, T0 + 1)]
    )
    await engine.update("a", {"data": msgspec.Raw(b'{"status":"end"}')}, updated=T0 + 5)
    await engine.update("b", {"data": msgspec.Raw(b'{"status":"wait"}')}, updated=T0 + 5)
    assert await found(engine, ("status", "wait")) == ["b"]
    assert await found(engine, ("status", "end")) == ["a"]
    assert await found(engine, ("status", "run")) == []
    await engine.update("b", {"ts": T0 - 10, "type": "moved"}, updated=T0 + 6)
    assert await found(engine, ("status", "wait"), type="moved", end=T0) == ["b"]
    await engine.update("b", {"data": msgspec.Raw(b"{}")}, updated=T0 + 7)
    assert await found(engine, ("status", "wait")) == []


async def test_a_delete_and_a_clear_leave_the_results(engine: Engine) -> None:
    await engine.put_many(
        [with_data("a", {"status": "wait"}, T0), with_data("b", {"status": "wait"}, T0 + 1)]
    )
    await engine.delete("a")
    assert await found(engine, ("status", "wait")) == ["b"]
    await engine.clear()
    assert await found(engine, ("status", "wait")) == []
    await engine.put_many([with_data("c", {"status": "wait"})])
    assert await found(engine, ("status", "wait")) == ["c"]


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_scans_run_batch_after_batch(
    engine: Engine, order: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(where_module, "BATCH", 2)
    monkeypatch.setattr(where_module, "COUNT_BATCH", 2)
    # A batch whose only match is its last event, from either end: a next batch that
    # began anywhere before it would read that match twice.
    statuses = ["run", "run", "wait", "wait", "run", "wait", "wait", "run", "run"]
    await engine.put_many(
        [with_data(f"e{i}", {"status": s}, T0 + i) for i, s in enumerate(statuses)]
    )
    wanted = [f"e{i}" for i, s in enumerate(statuses) if s == "wait"]
    where = ((parse_path("status"), "wait"),)
    assert await engine.count(Query(where=where)) == len(wanted)
    seen: list[str] = []
    after = None
    for _ in range(10):  # bounded: a cursor that does not advance fails
        page = await engine.query(Query(where=where, after=after, order=order, limit=2))  # type: ignore[arg-type]
        seen += [e.id for e in page.events]
        if not page.more:
            break
        after = page.events[-1].position
    assert seen == (wanted if order == "asc" else wanted[::-1])


VALUES = st.sampled_from([None, 1, 1.0, "1", "wait", True, {"a": 1, "b": [2]}, [1]])
DATA = st.fixed_dictionaries({}, optional={"status": VALUES, "n": VALUES})
OPS = st.lists(
    st.tuples(
        st.sampled_from(["put", "update", "delete"]),
        st.sampled_from("abcdef"),
        st.integers(T0, T0 + 3),  # few distinct times: many ties
        DATA,
        st.sampled_from(["x", "y"]),
    ),
    max_size=25,
)
CLAUSES = st.lists(st.tuples(st.sampled_from(["status", "n"]), VALUES), max_size=2)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],  # cleared per example
)
@given(ops=OPS, clauses=CLAUSES, type=st.none() | st.just("x"), limit=st.integers(1, 3))
async def test_searches_agree_with_a_brute_force_model(
    engine: Engine,
    ops: list[Any],
    clauses: list[Any],
    type: str | None,
    limit: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Batches of two or three events: every scan and count runs over many, both ways.
    monkeypatch.setattr(where_module, "BATCH", 2)
    monkeypatch.setattr(where_module, "COUNT_BATCH", 3)
    await engine.clear()
    model: dict[str, Event] = {}
    for op, id, ts, data, kind in ops:
        raw = msgspec.Raw(msgspec.json.encode(data))
        if op == "put" and id not in model:
            [result] = await engine.put_many([ev(id, ts, data=raw, type=kind)])
            model[id] = result.event
        elif op == "update" and id in model:
            changed = await engine.update(id, {"ts": ts, "data": raw}, updated=T0)
            assert changed is not None
            model[id] = changed
        elif op == "delete" and id in model:
            await engine.delete(id)
            del model[id]
    where = tuple((parse_path(path), value) for path, value in clauses)

    def matches(event: Event) -> bool:
        data = msgspec.json.decode(event.data)
        return (type is None or event.type == type) and all(
            path.read_data(data) is not MISSING
            and canonical(path.read_data(data)) == canonical(value)
            for path, value in where
        )

    expected = [e.id for e in sorted(model.values(), key=lambda e: e.position) if matches(e)]
    assert await engine.count(Query(where=where, type=type)) == len(expected)
    for order, want in (("asc", expected), ("desc", expected[::-1])):
        seen: list[str] = []
        after = None
        for _ in range(50):  # bounded: a cursor that does not advance fails
            query = Query(where=where, type=type, after=after, order=order, limit=limit)  # type: ignore[arg-type]
            page = await engine.query(query)
            seen += [e.id for e in page.events]
            if not page.more:
                break
            after = page.events[-1].position
        assert seen == want
