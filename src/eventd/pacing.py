"""Long work in slices: a generator does a slice of work per step, and `paced` yields to the
event loop between steps once a few milliseconds have passed, so that no single step holds
the loop long (issue 20: an import, a clear, a big answer).

A slice of work is written as a plain generator that `yield`s between slices, so the work
stays synchronous and readable, and generators compose with `yield from`. Work that changes
shared state is run with `atomic=True`: if the task is cancelled while it waits for its
turn, the rest of the work is done at once before the cancellation goes on, so that no
reader ever sees it half done.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Iterator, Sequence
from typing import TypeVar

R = TypeVar("R")
T = TypeVar("T")

# Seconds of work between two turns of the loop. Tests set it to 0 to yield at every step.
SLICE_SECONDS = 0.004

Work = Generator[None, None, R]


async def paced(work: Work[R], *, atomic: bool = False) -> R:
    """Run `work` to its end, yielding to the loop between its steps once a slice's time has
    passed; return what it returns. With `atomic`, a cancellation finishes the work first."""
    since = time.perf_counter()
    while True:
        try:
            next(work)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        if time.perf_counter() - since < SLICE_SECONDS:
            continue
        try:
            await asyncio.sleep(0)
        except asyncio.CancelledError:
            if atomic:
                for _ in work:
                    pass
            else:
                work.close()
            raise
        since = time.perf_counter()


def done(work: Work[R]) -> R:
    """Run `work` to its end without yielding (where the caller cannot wait); return its
    result."""
    while True:
        try:
            next(work)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]


def slices(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """Yield `items` in consecutive slices of at most `size`."""
    for start in range(0, len(items), size):
        yield items[start : start + size]
