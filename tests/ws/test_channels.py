"""The channel registry on its own: what it refuses, and in which order it asks channels."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp import web

from eventd.store.base import StorageError
from eventd.ws.channels import Channels, FeedChannel, Refusal, Stream, refuse
from eventd.ws.connection import Connection, Sink
from eventd.ws.handler import handle_subscribe
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


class PhasedChannel:
    """A channel whose stream records every phase, in one log shared with other channels."""

    fields: frozenset[str] = frozenset()

    def __init__(self, name: str, log: list[str], fields: dict[str, Any]) -> None:
        self.name = name
        self.log = log
        self.reply_fields = fields

    def check(self, request: Subscribe) -> Refusal | None:
        self.log.append(f"{self.name}.check")
        return None

    async def prepare(self, request: Subscribe) -> None:
        self.log.append(f"{self.name}.prepare")

    def open(self, request: Subscribe, sink: Sink) -> Stream | Refusal:
        self.log.append(f"{self.name}.open")
        return PhasedStream(self)


class PhasedStream:
    def __init__(self, channel: PhasedChannel) -> None:
        self.channel = channel

    def note(self, phase: str) -> None:
        self.channel.log.append(f"{self.channel.name}.{phase}")

    async def ready(self) -> dict[str, Any] | Refusal:
        self.note("ready")
        return self.channel.reply_fields

    def start(self) -> None:
        self.note("start")

    async def run(self) -> None:
        self.note("run")

    def close(self) -> None:
        self.note("close")


class LoggedConnection(Connection):
    """A connection without a socket that logs its replies."""

    def __init__(self, channels: Channels, log: list[str]) -> None:
        super().__init__(None, channels, 10, None)  # type: ignore[arg-type]
        self.log = log

    async def reply(self, message: bytes) -> None:
        self.log.append(message.decode())


async def test_a_subscription_runs_each_phase_over_every_channel_before_the_next() -> None:
    """As `events` and `stats` need it: every wait before anything is made, `subscribed`
    before any snapshot, every snapshot before a replay."""
    log: list[str] = []
    channels = Channels(max_subscriptions=5)
    channels.add("first", PhasedChannel("first", log, {"position": 7}))
    channels.add("second", PhasedChannel("second", log, {}))
    conn = LoggedConnection(channels, log)
    await handle_subscribe(conn, Subscribe("s", channels=["second", "first"]))
    made = [
        f"{name}.{phase}"
        for phase in ("check", "prepare", "open", "ready")
        for name in ("first", "second")
    ]
    subscribed = '{"type":"subscribed","id":"s","position":7}'
    started = ["first.start", "second.start", "first.run", "second.run"]
    assert log == [*made, subscribed, *started]
    conn.close()
    assert log[-2:] == ["first.close", "second.close"]


class UnansweredChannel(PhasedChannel):
    """A channel whose wait reads a store that does not answer."""

    async def prepare(self, request: Subscribe) -> None:
        self.log.append(f"{self.name}.prepare")
        raise StorageError("no answer")


async def test_a_store_failure_while_preparing_answers_unavailable_and_makes_nothing() -> None:
    log: list[str] = []
    channels = Channels(max_subscriptions=5)
    channels.add("slow", UnansweredChannel("slow", log, {}))
    conn = LoggedConnection(channels, log)
    await handle_subscribe(conn, Subscribe("s", channels=["slow"]))
    unavailable = {
        "type": "error",
        "code": "unavailable",
        "message": "the store did not answer; subscribe again with since",
        "id": "s",
    }
    assert log[:2] == ["slow.check", "slow.prepare"]
    assert [json.loads(line) for line in log[2:]] == [unavailable]
    assert "s" not in conn.subscriptions


def test_a_channel_cannot_claim_a_field_subscribe_does_not_carry() -> None:
    channels = Channels(max_subscriptions=2)
    with pytest.raises(ValueError, match="subscribe has no colour"):
        channels.add("paint", FakeChannel("paint", [], fields=frozenset({"colour"})))
    assert channels.names == []


def test_the_feed_channels_of_one_subscribe_are_served_by_one() -> None:
    app = web.Application()
    describe = lambda change: "text"  # noqa: E731
    events = FeedChannel(app, frozenset({"created", "cleared"}))
    reminders = FeedChannel(app, frozenset({"reminder", "cleared"}), describe)
    other = FakeChannel("other", [])
    channels = Channels(max_subscriptions=2)
    channels.add("events", events)
    channels.add("other", other)  # type: ignore[arg-type]
    channels.add("reminders", reminders)
    both = Subscribe("s", channels=["reminders", "other", "events"])
    merged, second = channels.serving(both)
    assert second is other
    assert isinstance(merged, FeedChannel)
    assert merged.ops == frozenset({"created", "cleared", "reminder"})
    assert merged.describe is describe
    assert channels.serving(Subscribe("s", channels=["events"])) == [events]
    assert channels.serving(Subscribe("s", channels=["reminders", "other"])) == [other, reminders]
