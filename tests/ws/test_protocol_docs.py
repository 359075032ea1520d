"""docs/websocket.md and docs/asyncapi.yaml name every error code and the epoch fields."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

from eventd.ws import protocol

DOCS = Path(__file__).parents[2] / "docs"


def test_every_error_code_is_documented() -> None:
    prose = (DOCS / "websocket.md").read_text()
    spec = (DOCS / "asyncapi.yaml").read_text()
    for code in get_args(protocol.ErrorCode):
        assert f"`{code}`" in prose, code
        assert code in spec, code


def test_the_epoch_and_the_cap_are_documented() -> None:
    prose = (DOCS / "websocket.md").read_text()
    spec = (DOCS / "asyncapi.yaml").read_text()
    assert "## Epochs" in prose
    assert "feed.max_subscriptions_per_socket" in prose
    assert spec.count("epoch:") >= 5  # subscribe, welcome, subscribed, change, truncated
    assert "enum: [epoch, ahead, trimmed]" in spec
