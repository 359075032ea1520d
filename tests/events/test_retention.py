"""The retention job deletes what its rules say is too old, and nothing else."""

from __future__ import annotations

from eventd.events.retention import apply_retention
from eventd.keys import WORKER
from tests.conftest import FakeClock, MakeClient, make_config
from tests.stats.test_routes import at


async def test_retention_job_deletes_old_events(make_client: MakeClient, clock: FakeClock) -> None:
    client = await make_client(make_config(retention={"max_age": "1d,debug=1h"}))
    await client.post(
        "/events",
        json=[
            {"id": "old", "timestamp": at(-2 * 86400)},
            {"id": "recent", "timestamp": at(-3600 * 5)},
            {"id": "old-debug", "timestamp": at(-3600 * 2), "type": "debug"},
            {"id": "new-debug", "timestamp": at(-60), "type": "debug"},
        ],
    )
    worker = client.app[WORKER]
    deleted = await apply_retention(worker, {None: 86400, "debug": 3600}, clock)
    assert deleted == 2
    listed = await (await client.get("/events")).json()
    assert [e["id"] for e in listed["events"]] == ["recent", "new-debug"]
