"""Another task on the event loop, to show that a long operation lets it run."""

from __future__ import annotations

import asyncio
from types import TracebackType


class Turns:
    """Counts the turns of a task that yields to the loop as often as it can.

    `mark()` notes the count when a long operation takes in one more item; `longest_run()`
    then says how many items at most it took in without letting the task run once.
    """

    def __init__(self) -> None:
        self.count = 0
        self.marks: list[int] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Turns:
        self._task = asyncio.create_task(self._run(), name="turns")
        await asyncio.sleep(0)  # let it start
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            self.count += 1
            await asyncio.sleep(0)

    def mark(self) -> None:
        """Note that one more item was taken in now."""
        self.marks.append(self.count)

    def longest_run(self) -> int:
        """Return the most items taken in between two turns of the task."""
        longest = run = 0
        previous = None
        for count in self.marks:
            run = run + 1 if count == previous else 1
            previous = count
            longest = max(longest, run)
        return longest
