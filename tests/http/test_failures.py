"""Failures below the HTTP layer become JSON answers: 503 with Retry-After, never a trace."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from eventd.keys import WORKER
from eventd.store.base import Page, Query, StorageError
from eventd.store.memory import MemoryEngine
from tests.conftest import MakeClient, make_config
from tests.waiting import wait_for


class FaultyEngine(MemoryEngine):
    """A memory engine whose queries can be held back or made to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.gate.set()
        self.error: Exception | None = None
        self.held = 0  # queries waiting at the gate

    async def query(self, query: Query) -> Page:
        self.held += 1
        await self.gate.wait()
        self.held -= 1
        if self.error is not None:
            raise self.error
        return await super().query(query)


async def test_overloaded_store_answers_503_with_retry_after(make_client: MakeClient) -> None:
    engine = FaultyEngine()
    config = make_config(store={"queue_size": 1, "enqueue_timeout": 0.05, "retry_after": 2})
    client = await make_client(config, engine=engine)
    engine.gate.clear()
    held = [asyncio.create_task(client.get("/events")) for _ in range(2)]
    worker = client.app[WORKER]
    # One query is held in the engine, the other fills the queue.
    await wait_for(lambda: engine.held == 1 and worker.backlog == 1, "a full store queue")
    response = await client.post("/events", json={})
    assert response.status == 503
    assert response.headers["Retry-After"] == "2"
    assert (await response.json())["error"]["code"] == "unavailable"
    engine.gate.set()
    assert [r.status for r in await asyncio.gather(*held)] == [200, 200]
    assert (await client.post("/events", json={})).status == 201


async def test_storage_error_answers_503(make_client: MakeClient) -> None:
    engine = FaultyEngine()
    client = await make_client(engine=engine)
    engine.error = StorageError("connection refused")
    response = await client.get("/events")
    assert response.status == 503
    assert "Retry-After" in response.headers
    assert "connection refused" in (await response.json())["error"]["message"]


async def test_unexpected_error_is_a_json_500_without_trace(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    engine = FaultyEngine()
    client = await make_client(engine=engine)
    engine.error = RuntimeError("bug")
    response = await client.get("/events")
    text = await response.text()
    assert response.status == 500
    assert "Traceback" not in text and "bug" not in text
    body: dict[str, Any] = await response.json()
    assert body["error"]["code"] == "internal"
    assert "unexpected error on GET /events" in caplog.text
