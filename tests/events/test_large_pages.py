"""A large page of GET /events is made into its answer in slices that let other tasks run."""

from __future__ import annotations

from typing import Any

import pytest

from eventd import pacing
from eventd.events import routes
from eventd.keys import WORKER
from eventd.model import Event, EventOut
from eventd.store.commands import PutMany
from tests.conftest import MakeClient, make_config
from tests.store.test_conformance import ev
from tests.turns import Turns


async def test_a_large_page_lets_other_tasks_run_and_answers_every_event(
    make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pacing, "SLICE_SECONDS", 0)  # a turn after every slice
    client = await make_client(make_config(limits={"max_page_size": 5000}))
    count = 4 * routes.ANSWER_SLICE + 3
    await client.app[WORKER].call(PutMany([ev(f"e{n:05}") for n in range(count)]))
    async with Turns() as turns:
        to_out = routes.to_out

        def marking(event: Event) -> EventOut:
            turns.mark()
            return to_out(event)

        monkeypatch.setattr(routes, "to_out", marking)
        response = await client.get("/events", params={"limit": "5000"})
        body: dict[str, Any] = await response.json()
    assert response.status == 200
    assert [event["id"] for event in body["events"]] == [f"e{n:05}" for n in range(count)]
    assert turns.longest_run() <= routes.ANSWER_SLICE < count
