"""Wait in tests on a condition, never on a guessed sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

# Generous: the bound only turns a condition that never comes into a failure, not a hang.
TIMEOUT = 30.0
POLL = 0.005


async def wait_for(condition: Callable[[], bool], what: str) -> None:
    """Return once `condition()` is true; fail, naming `what`, after `TIMEOUT` seconds.

    For conditions that no event announces (a queue's length); wait on an event otherwise.
    """
    try:
        async with asyncio.timeout(TIMEOUT):
            while not condition():  # noqa: ASYNC110 - nothing to wait on but the predicate
                await asyncio.sleep(POLL)
    except TimeoutError:
        raise AssertionError(f"timed out after {TIMEOUT:g} s waiting for {what}") from None
