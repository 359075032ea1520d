"""eventd.client on the `reminders` channel: it yields reminders, and resumes with `since`."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from eventd.client import Subscriber
from eventd.keys import SOCKETS
from tests.conftest import FakeClock
from tests.reminders.conftest import Client, service
from tests.reminders.test_service import at
from tests.test_client import collect
from tests.waiting import wait_for

pytestmark = pytest.mark.memory


async def test_the_client_gets_reminders_and_resumes_after_a_drop(
    client: Client, clock: FakeClock
) -> None:
    received: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        subscriber = Subscriber(session, str(client.make_url("/")), channels=["reminders"])
        reading = asyncio.create_task(collect(subscriber, 4, received))
        await asyncio.wait_for(subscriber.connected.wait(), 5)
        await client.post(
            "/events", json=[{"id": f"e{i}", "timestamp": at(10 + i)} for i in range(4)]
        )
        clock.advance(6 * 60)
        await service(client).fire_due()  # e0 and e1
        await wait_for(lambda: len(received) == 2, "the first two reminders")
        for ws in list(client.app[SOCKETS]):  # drop every connection from the server side
            await ws.close(code=1012, message=b"restart")
        clock.advance(2 * 60)
        await service(client).fire_due()  # e2 and e3, while the client may be away
        await asyncio.wait_for(reading, 10)
    assert [m["type"] for m in received] == ["reminder"] * 4
    assert [m["reminder"]["event_id"] for m in received] == ["e0", "e1", "e2", "e3"]
    positions = [m["position"] for m in received]
    assert positions == sorted(set(positions))
    assert subscriber.connections == 2
