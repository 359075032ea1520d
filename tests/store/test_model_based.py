"""Random sequences of engine operations give the same answers as a small reference model."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from eventd.store.base import Engine, IdConflict, Query
from tests.store.test_conformance import T0, ev

IDS = st.sampled_from([f"e{i}" for i in range(8)])
TIMES = st.integers(min_value=T0, max_value=T0 + 4)  # few distinct times: many ties
TYPES = st.sampled_from(["a", "b"])
KEYS = st.sampled_from([None, "k1", "k2"])
BOUND = st.none() | st.none() | TIMES
FILTER_TYPE = st.none() | st.none() | TYPES
FILTER_KEY = st.none() | st.none() | st.sampled_from(["k1", "k2"])


class EngineMachine(RuleBasedStateMachine):
    """Drives one engine and a dict-based model side by side."""

    def make_engine(self) -> Engine:
        raise NotImplementedError

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.engine = self.make_engine()
        self.model: dict[str, dict[str, Any]] = {}  # id -> fields, including seq
        self.batches = 0

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    @initialize()
    def open(self) -> None:
        self.run(self.engine.open())

    def teardown(self) -> None:
        self.run(self.engine.close())
        self.loop.close()

    @rule(id=IDS, ts=TIMES, type=TYPES, key=KEYS)
    def put(self, id: str, ts: int, type: str, key: str | None) -> None:
        known = self.model.get(id)
        same = known is not None and (known["ts"], known["type"], known["key"]) == (ts, type, key)
        try:
            [result] = self.run(self.engine.put_many([ev(id, ts, type=type, key=key)]))
        except IdConflict:
            assert known is not None and not same
            return
        assert result.created == (known is None)
        assert known is None or same
        if known is None:
            self.model[id] = {"ts": ts, "type": type, "key": key, "seq": result.event.seq}

    @rule(rows=st.lists(st.tuples(TIMES, TYPES, KEYS), min_size=1, max_size=6))
    def put_fresh_batch(self, rows: list[tuple[int, str, str | None]]) -> None:
        self.batches += 1
        batch = [ev(f"b{self.batches}-{i}", ts, type=t, key=k) for i, (ts, t, k) in enumerate(rows)]
        results = self.run(self.engine.put_many(batch))
        assert all(r.created for r in results)
        for r in results:
            e = r.event
            self.model[e.id] = {"ts": e.ts, "type": e.type, "key": e.key, "seq": e.seq}

    @rule(id=IDS, ts=TIMES, type=TYPES, key=KEYS)
    def update(self, id: str, ts: int, type: str, key: str | None) -> None:
        result = self.run(self.engine.update(id, {"ts": ts, "type": type, "key": key}, T0))
        assert (result is None) == (id not in self.model)
        if result is not None:
            assert result.seq == self.model[id]["seq"]
            self.model[id].update(ts=ts, type=type, key=key)

    @rule(id=IDS)
    def delete(self, id: str) -> None:
        result = self.run(self.engine.delete(id))
        assert (result is None) == (id not in self.model)
        self.model.pop(id, None)

    @rule(
        start=BOUND,
        end=BOUND,
        type=FILTER_TYPE,
        key=FILTER_KEY,
        order=st.sampled_from(["asc", "desc"]),
        limit=st.integers(1, 4),
    )
    def walk_pages(
        self,
        start: int | None,
        end: int | None,
        type: str | None,
        key: str | None,
        order: str,
        limit: int,
    ) -> None:
        query = Query(start=start, end=end, type=type, key=key, order=order, limit=limit)  # type: ignore[arg-type]
        expected = self.expected(query)
        seen: list[str] = []
        for _ in range(len(self.model) + 2):  # bounded: a cursor that does not advance fails
            page = self.run(self.engine.query(query))
            seen += [event.id for event in page.events]
            assert len(page.events) <= limit
            if not page.more:
                break
            assert page.events, "a page that promises more must not be empty"
            query = dataclasses.replace(query, after=page.events[-1].position)
        else:
            raise AssertionError("the pages never ended")
        assert seen == expected
        assert self.run(self.engine.count(query)) == len(expected)

    def expected(self, query: Query) -> list[str]:
        rows = [
            (f["ts"], f["seq"], id)
            for id, f in self.model.items()
            if (query.start is None or f["ts"] >= query.start)
            and (query.end is None or f["ts"] <= query.end)
            and (query.type is None or f["type"] == query.type)
            and (query.key is None or f["key"] == query.key)
        ]
        rows.sort(reverse=query.order == "desc")
        return [id for _, _, id in rows]

    @invariant()
    def ids_agree(self) -> None:
        for id in ("e0", "e7"):
            stored = self.run(self.engine.get(id))
            assert (stored is None) == (id not in self.model)
            if stored is not None:
                assert stored.ts == self.model[id]["ts"]


SETTINGS = settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def test_engine_agrees_with_the_model(any_engine: Engine) -> None:
    """Run the machine on each engine; a fresh store (cleared) for every example."""

    class Machine(EngineMachine):
        def make_engine(self) -> Engine:
            return any_engine

        @initialize()
        def open(self) -> None:
            self.run(self.engine.open())
            self.run(self.engine.clear())

    run_state_machine_as_test(Machine, settings=SETTINGS)
