"""A sent reminder carries its event unchanged: the statistics do not take it in again."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from eventd.keys import WORKER
from eventd.stats.keys import STATS
from eventd.store.commands import ClaimDue
from tests.conftest import NOW, FakeClock, MakeClient
from tests.waiting import wait_for
from tests.ws.test_websocket import post

Client = TestClient[Any, Any]
SECOND = 1_000_000
MINUTE = 60 * SECOND


async def stats_after(client: Client, position: int) -> Any:
    """Answer GET /stats once the windows took in the changes up to `position`."""
    hub = client.app[STATS].hub
    await wait_for(lambda: hub.position >= position, f"the hub at position {position}")
    response = await client.get("/stats")
    assert response.status == 200, await response.text()
    return (await response.json())["windows"]


async def test_a_reminder_change_leaves_the_windows_as_they_are(
    make_client: MakeClient, clock: FakeClock
) -> None:
    client = await make_client()
    await post(client, {"id": "a", "timestamp": (NOW + 10 * MINUTE) / SECOND, "value": 5})
    created = client.app[WORKER].written_position
    await stats_after(client, created)
    rolling = client.app[STATS].rolling
    version = rolling.version
    [sent] = await client.app[WORKER].call(ClaimDue(NOW + 5 * MINUTE, 10, 3600 * SECOND))
    assert sent.position == created + 1
    before = await stats_after(client, sent.position)
    assert rolling.version == version  # nothing was taken in: no summary is computed again
    clock.advance(11 * 60)
    windows = await stats_after(client, sent.position)
    assert (windows["15m"]["count"], windows["15m"]["sum"]) == (1, 5.0)
    assert before["15m"]["count"] == 0
