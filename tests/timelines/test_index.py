"""The incremental index against the brute force of `transitions_of`, on random histories."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest.mock import patch

from hypothesis import given, settings
from hypothesis import strategies as st

from eventd.fields import canonical
from eventd.timelines import answers
from eventd.timelines.index import FieldIndex
from eventd.timelines.points import (
    Point,
    Window,
    changes_of,
    dwell_stats,
    summarize,
    transitions_of,
)

VALUES = st.sampled_from(["start", "wait", "end", 1, 1.0, None, True, {"a": [1]}, "x"])
IDS = st.integers(0, 11).map(lambda n: f"e{n}")
KEYS = st.sampled_from(["k1", "k2", "k3", None])
TIMES = st.integers(0, 40)
# An operation: a put (id, key, time, value or absent, type), a delete (id), or a clear; mostly
# puts, so that timelines grow long enough to have changes in their middles.
KIND = st.sampled_from(["put"] * 12 + ["delete"] * 3 + ["clear"])
PRESENT = VALUES.map(lambda value: [value])
OP = st.tuples(KIND, IDS, KEYS, TIMES, PRESENT | PRESENT | st.none(), st.sampled_from("ab"))
OPS = st.lists(OP, min_size=1, max_size=60)


def run(ops: list[Any]) -> tuple[FieldIndex, dict[str, tuple[str | None, Point | None]]]:
    """Apply `ops` to an index and to a plain store; return both."""
    index = FieldIndex()
    store: dict[str, tuple[str | None, Point | None]] = {}
    seqs: dict[str, int] = {}
    next_seq = 0
    for op in ops:
        if op[0] == "clear":
            index.clear()
            store.clear()
            seqs.clear()
        elif op[0] == "delete":
            index.remove(op[1])
            store.pop(op[1], None)
        else:
            _, id, key, ts, value, type = op
            if id not in seqs:  # an update keeps the seq, as the store does
                next_seq += 1
                seqs[id] = next_seq
            point = None if value is None else Point(ts, seqs[id], canonical(value[0]), id, type)
            index.put(id, key, point)
            store[id] = (key, point)
    return index, store


def brute(store: dict[str, tuple[str | None, Point | None]]) -> list[tuple[str, list[Point]]]:
    lines: dict[str, list[Point]] = {}
    for key, point in store.values():
        if key is not None and point is not None:
            lines.setdefault(key, []).append(point)
    return sorted((key, sorted(points)) for key, points in lines.items())


WINDOWS = st.builds(
    lambda start, length, source, target, types, keys: Window(
        start,
        start + length,
        None if source is None else canonical(source),
        None if target is None else canonical(target),
        types,
        keys,
    ),
    TIMES,
    st.integers(0, 40),
    st.none() | VALUES,
    st.none() | VALUES,
    st.none() | st.just(frozenset({"a"})),
    st.none() | st.sampled_from([frozenset({"k1"}), frozenset({"k2", "k3"})]),
)


@settings(max_examples=400)
@given(OPS, st.lists(WINDOWS, min_size=1, max_size=5))
def test_index_matches_brute_force(ops: list[Any], windows: list[Window]) -> None:
    check(ops, windows)


def check(ops: list[Any], windows: list[Window]) -> None:
    """Apply `ops`; compare the index's lines, changes and windows with brute force."""
    index, store = run(ops)
    timelines = brute(store)
    assert list(index.timelines()) == timelines
    for key, points in timelines:
        changes = [(p.ts, p.seq) for p in changes_of(points)]
        assert list(index.lines[key].changes) == changes
    for window in [Window(0, 100), *windows]:
        expected = transitions_of(timelines, window)
        assert summarize(index.window(window)) == expected
        assert asyncio.run(sliced(index, timelines, window)) == (expected, expected)


async def sliced(
    index: FieldIndex, timelines: list[tuple[str, list[Point]]], window: Window
) -> tuple[list[Any], list[Any]]:
    """Return the answers built a slice at a time, from the index and from the timelines."""
    with patch.object(answers, "SLICE", 2):  # slices end in the middle of lines and pairs
        from_index = await answers.summarize(await answers.indexed(index, window))
        from_lines = await answers.summarize(await answers.scanned(list(timelines), window))
    return from_index, from_lines


def in_order(ops: list[Any]) -> list[Any]:
    """Return `ops` with their times rising: every new point comes after its line's points
    (the append path), but for updates of an earlier id and equal times."""
    times = sorted(op[3] for op in ops)
    return [(*op[:3], ts, *op[4:]) for op, ts in zip(ops, times, strict=True)]


@settings(max_examples=300)
@given(OPS.map(in_order), st.lists(WINDOWS, min_size=1, max_size=5))
def test_index_written_in_order_matches_brute_force(ops: list[Any], windows: list[Window]) -> None:
    check(ops, windows)


def test_appends_at_the_end_of_a_line() -> None:
    index = FieldIndex()
    values = ["start", "wait", "wait", "end", "start"]
    for seq, value in enumerate(values):
        index.put(f"e{seq}", "k", Point(10 * seq, seq, canonical(value), f"e{seq}", "t"))
    assert [(p.ts, p.seq) for p in index.lines["k"].points] == [(10 * n, n) for n in range(5)]
    assert list(index.lines["k"].changes) == [(0, 0), (10, 1), (30, 3), (40, 4)]
    found = [(t.source, t.target, t.dwell) for t in index.window(Window(0, 100))]
    assert found == [
        (canonical("start"), canonical("wait"), 10),
        (canonical("wait"), canonical("end"), 20),  # since the first wait, at 10
        (canonical("end"), canonical("start"), 10),
    ]


def test_dwell_statistics_by_nearest_rank() -> None:
    assert dwell_stats([4_000_000, 1_000_000, 3_000_000, 2_000_000]) == {
        "mean": 2.5,
        "p50": 2.0,  # the 2nd of 4: half of them are at or below it
        "p90": 4.0,  # the 4th: 3 of 4 is not 90%
        "max": 4.0,
    }
    tenths = [n * 1_000_000 for n in range(1, 11)]
    assert dwell_stats(tenths)["p90"] == 9.0
    assert dwell_stats([7])["p50"] == dwell_stats([7])["p90"] == 7e-06
    assert dwell_stats([]) == {"mean": None, "p50": None, "p90": None, "max": None}
