"""The channel registry on its own: what it refuses, and in which order it asks channels."""

from __future__ import annotations

from typing import Any

from eventd.ws.channels import Channels, Refusal, Stream, refuse
from eventd.ws.connection import Sink
from eventd.ws.protocol import Subscribe


class FakeChannel:
    """A channel that refuses what it is told to, and records that it was asked."""

    def __init__(self, name: str, asked: list[str], fields: frozenset[str] = frozenset()):
        self.name = name
        self.asked = asked
        self.fields = fields
        self.refusal: Refusal | None = None

    def check(self, request: Subscribe) -> Refusal | None:
        self.asked.append(self.name)
        return self.refusal

    async def prepare(self, request: Subscribe) -> None:
        pass

    def open(self, request: Subscribe, sink: Sink) -> Stream | Refusal:
        raise AssertionError("the registry makes nothing")


def registry(asked: list[str]) -> tuple[Channels, FakeChannel, FakeChannel]:
    channels = Channels(max_subscriptions=2)
    beta = FakeChannel("beta", asked, fields=frozenset({"windows"}))
    alpha = FakeChannel("alpha", asked)
    channels.add("beta", beta)  # registered first: asked first
    channels.add("alpha", alpha)
    return channels, alpha, beta


def error(refusal: Refusal | None) -> dict[str, Any]:
    assert refusal is not None
    return refusal.message


def test_an_unknown_channel_is_refused_with_the_registered_names() -> None:
    channels, _, _ = registry([])
    for names in (["gamma"], ["alpha", "gamma"], []):
        refused = error(channels.refusal(Subscribe("x", channels=names), set()))
        assert refused == {
            "type": "error",
            "code": "bad_message",
            "message": "channels: use alpha, beta",
            "id": "x",
        }
    assert channels.names == ["alpha", "beta"]


def test_taken_ids_foreign_fields_and_the_cap_are_refused_before_the_channels() -> None:
    asked: list[str] = []
    channels, alpha, _ = registry(asked)
    alpha.refusal = refuse("unavailable", "not now", "x")
    refused = error(channels.refusal(Subscribe("x", channels=["alpha"]), {"x"}))
    assert refused["code"] == "duplicate_subscription"
    refused = error(channels.refusal(Subscribe("x", channels=["alpha"], windows=["5m"]), set()))
    assert refused["message"] == "windows: only the beta channel has windows"
    refused = error(channels.refusal(Subscribe("x", channels=["alpha"]), {"a", "b"}))
    assert refused["code"] == "too_many_subscriptions"
    assert refused["message"] == "a connection holds at most 2 subscriptions"
    assert asked == []
    assert error(channels.refusal(Subscribe("x", channels=["alpha"]), {"a"}))["code"] == (
        "unavailable"
    )


def test_channels_are_asked_in_the_order_they_were_registered() -> None:
    asked: list[str] = []
    channels, alpha, beta = registry(asked)
    request = Subscribe("x", channels=["alpha", "beta"], windows=["5m"])
    assert channels.refusal(request, set()) is None
    assert asked == ["beta", "alpha"]
    assert channels.chosen(request) == [beta, alpha]
    beta.refusal = refuse("bad_message", "no", "x")
    assert error(channels.refusal(request, set()))["message"] == "no"
