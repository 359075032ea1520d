"""Statistics of values whose sums or variance leave the range of a float, on every endpoint."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.stats.test_routes import at, settle

Client = TestClient[Any, Any]
MAX = sys.float_info.max

# (values in one window, the exact count, sum, mean and stddev answered; None: beyond a float)
CASES = [
    pytest.param([1e155, 0.0], (2, 1e155, 5e154, 5e154), id="variance-overflows"),
    pytest.param([1e308, -1e308], (2, 0.0, 0.0, 1e308), id="plus-minus-1e308"),
    pytest.param([1e308, 1e308], (2, None, 1e308, 0.0), id="sum-overflows"),
    pytest.param([MAX, -MAX, MAX], (3, MAX, MAX / 3, MAX * (8 / 9) ** 0.5), id="largest-floats"),
]


def strict_json(text: str) -> Any:
    """Parse JSON that must hold no NaN or Infinity literal."""

    def refuse(literal: str) -> None:
        raise AssertionError(f"{literal} in the answer: {text}")

    return json.loads(text, parse_constant=refuse)


async def get_json(client: Client, path: str, **params: Any) -> Any:
    response = await client.get(path, params=params)
    text = await response.text()
    assert response.status == 200, text
    return strict_json(text)


def check_moments(
    summary: dict[str, Any], expected: tuple[int, float | None, float, float]
) -> None:
    count, total, mean, stddev = expected
    assert summary["count"] == count
    assert summary["mean"] == pytest.approx(mean, rel=1e-12)
    assert summary["stddev"] == pytest.approx(stddev, rel=1e-12)
    if total is None:
        assert summary["sum"] is None
        assert "float" in summary["null_reasons"]["sum"]
    else:
        assert summary["sum"] == pytest.approx(total, rel=1e-12, abs=1e-300)
        assert "null_reasons" not in summary
    for name in ("p50", "p90", "p95", "p99", "min", "max"):
        assert summary[name] is not None and math.isfinite(summary[name])


async def post_values(client: Client, values: list[float]) -> None:
    events = [{"timestamp": at(-10 - i), "value": value} for i, value in enumerate(values)]
    response = await client.post("/events", json=events)
    assert response.status == 201, await response.text()
    await settle(client)


@pytest.mark.parametrize(("values", "expected"), CASES)
async def test_windows_answer_values_beyond_a_float(
    client: Client, values: list[float], expected: Any
) -> None:
    await post_values(client, values)
    every = await get_json(client, "/stats")
    for name in ("5m", "15m", "1h", "1d"):
        check_moments(every["windows"][name], expected)
    check_moments(await get_json(client, "/stats", window="5m"), expected)
    check_moments(await get_json(client, "/stats", window="1h", type="event"), expected)
    older = await get_json(client, "/statistics")
    assert older["count"] == expected[0]
    assert older["mean"] == pytest.approx(expected[2], rel=1e-12)


@pytest.mark.parametrize(("values", "expected"), CASES)
async def test_range_statistics_answer_values_beyond_a_float(
    client: Client, values: list[float], expected: Any
) -> None:
    await post_values(client, values)
    body = await get_json(client, "/stats", start=at(-3600), end=at(0))
    check_moments(body, expected)


@pytest.mark.parametrize(("values", "expected"), CASES)
async def test_history_answers_values_beyond_a_float(
    client: Client, values: list[float], expected: Any
) -> None:
    await post_values(client, values)
    body = await get_json(
        client, "/stats/history", window="5m", step="1m", start=at(-120), end=at(0)
    )
    point = body["points"][-1]
    count, total, mean, _ = expected
    assert point["count"] == count
    assert point["mean"] == pytest.approx(mean, rel=1e-12)
    if total is None:
        assert point["sum"] is None and "float" in point["null_reasons"]["sum"]
    else:
        assert point["sum"] == pytest.approx(total, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(("values", "expected"), CASES)
async def test_the_stats_channel_answers_values_beyond_a_float(
    client: Client, values: list[float], expected: Any
) -> None:
    await post_values(client, values)
    ws = await client.ws_connect("/ws")
    assert (await ws.receive_json())["type"] == "welcome"
    await ws.send_json({"type": "subscribe", "id": "s", "channels": ["stats"]})
    assert (await ws.receive_json(timeout=5))["type"] == "subscribed"
    message = await ws.receive(timeout=5)
    assert message.type.name == "TEXT", message
    pushed = strict_json(message.data)
    assert pushed["type"] == "stats"
    check_moments(pushed["windows"]["1h"], expected)
    await ws.close()
