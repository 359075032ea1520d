"""Work in slices: `paced` lets other tasks run between the steps, and atomic work finishes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from eventd import pacing
from eventd.pacing import Work, done, paced, slices
from tests.turns import Turns
from tests.waiting import wait_for


@pytest.fixture
def every_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Yield to the loop after every step, however fast."""
    monkeypatch.setattr(pacing, "SLICE_SECONDS", 0.0)


def counted(steps: int, log: list[int]) -> Work[int]:
    for step in range(steps):
        log.append(step)
        yield
    return steps


@pytest.mark.usefixtures("every_step")
async def test_other_tasks_run_between_the_steps() -> None:
    async with Turns() as turns:
        before = turns.count
        assert await paced(counted(50, [])) == 50
    assert turns.count - before >= 50


async def test_steps_within_a_slice_run_without_yielding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pacing, "SLICE_SECONDS", 3600.0)
    async with Turns() as turns:
        before = turns.count
        await paced(counted(50, []))
    assert turns.count - before <= 1


@pytest.mark.usefixtures("every_step")
async def test_atomic_work_is_finished_when_cancelled() -> None:
    log: list[int] = []
    task = asyncio.create_task(paced(counted(10**6, log), atomic=True))
    await wait_for(lambda: len(log) >= 1, "a first step")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == list(range(10**6))


@pytest.mark.usefixtures("every_step")
async def test_other_work_stops_when_cancelled() -> None:
    log: list[int] = []
    task = asyncio.create_task(paced(counted(10**7, log)))
    await wait_for(lambda: len(log) >= 1, "a first step")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert 1 <= len(log) < 10**7


def test_done_runs_the_work_at_once() -> None:
    log: list[int] = []
    assert done(counted(5, log)) == 5
    assert log == [0, 1, 2, 3, 4]


def test_slices_cover_the_items_in_order() -> None:
    items = list(range(10))
    parts: Iterator[list[int]] = slices(items, 4)  # type: ignore[assignment]
    assert [list(part) for part in parts] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
