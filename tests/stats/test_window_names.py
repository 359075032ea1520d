"""An unknown window is refused with the same message by /stats, /stats/history and the channel."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.stats.test_routes import at
from tests.ws.test_websocket import connect, receive

Client = TestClient[Any, Any]
KNOWN = "5m, 15m, 1h, 1d"


async def test_an_unknown_window_is_refused_alike_everywhere(client: Client) -> None:
    long = "1" * 40  # shown cut short: no window is named so long
    for given, shown in (("2h", "'2h'"), (long, f"'{long[:32]}…'")):
        history = {"step": "1m", "start": str(at(-600)), "end": str(at(0))}
        for path, params in (("/stats", {}), ("/stats/history", history)):
            response = await client.get(path, params=params | {"window": given})
            error = (await response.json())["error"]
            assert response.status == 400
            assert (error["field"], error["message"]) == (
                "window",
                f"{shown} is not one of {KNOWN}",
            )
        ws = await connect(client)
        await ws.send_json(
            {"type": "subscribe", "id": "x", "channels": ["stats"], "windows": [given]}
        )
        error = await receive(ws)
        assert (error["code"], error["message"]) == (
            "bad_message",
            f"windows: {shown} is not one of {KNOWN}",
        )
        await ws.close()
