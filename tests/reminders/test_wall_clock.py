"""With the wall clock: a reminder due in about a second arrives, on time and never early,
while the timer sleeps rather than polls."""

from __future__ import annotations

from typing import Any

import pytest

from eventd.app import create_app
from eventd.store.base import Engine
from eventd.times import format_us, wall_clock_us
from tests.conftest import make_config
from tests.reminders.conftest import reminding_engine
from tests.reminders.test_service import listen, next_reminder, reminders_of
from tests.ws.test_websocket import post

pytestmark = pytest.mark.memory


class Counting:
    """Counts the engine's `next_due` calls: the timer's reads of the next due time."""

    def __init__(self, engine: Engine) -> None:
        self.calls = 0
        inner = engine.next_due  # type: ignore[attr-defined]

        async def next_due() -> int | None:
            self.calls += 1
            result: int | None = await inner()
            return result

        engine.next_due = next_due  # type: ignore[attr-defined]


async def test_a_reminder_due_in_a_second_arrives_without_polling(aiohttp_client: Any) -> None:
    config = make_config()
    engine = reminding_engine(config)
    counter = Counting(engine)
    client = await aiohttp_client(create_app(config, engine=engine))
    ws = await listen(client)
    due = wall_clock_us() + 1_000_000
    ts = format_us(due + 300_000_000)  # the default offset, 5 minutes, before: due in 1 s
    await post(client, {"id": "soon", "title": "Soon", "timestamp": ts})
    message = await next_reminder(ws)
    assert message["reminder"]["due"] == format_us(due)
    [sent] = await reminders_of(client, "soon")
    assert sent["state"] == "sent"
    assert sent["sent_at"] >= sent["due"]  # never before its due time (same-width UTC text)
    # The start-up read, the read after the post woke the timer, and a few more around the
    # due time (a timer may fire a hair early): not one read per second, let alone per tick.
    assert counter.calls <= 8, counter.calls
