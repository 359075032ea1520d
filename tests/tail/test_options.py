"""The options of `eventd tail`, read and checked."""

from __future__ import annotations

import argparse

import pytest

from eventd.tail.options import UsageError, default_url, make_options, parse_since, parse_url
from tests.conftest import make_config


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
        ("https://events.example/eventd/", "https://events.example/eventd"),
        ("ws://[::1]:8080/ws", "http://[::1]:8080"),
        ("wss://events.example/ws", "https://events.example"),
    ],
)
def test_parse_url_gives_the_daemons_base(given: str, url: str) -> None:
    assert parse_url(given) == url


@pytest.mark.parametrize(
    "given", ["127.0.0.1:8080", "ftp://host", "http://", "http://h:port", "http://h/#x"]
)
def test_parse_url_refuses_what_is_not_a_daemon_url(given: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_url(given)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:9000"),
        ("0.0.0.0", "http://127.0.0.1:9000"),
        ("::", "http://[::1]:9000"),
        ("::1", "http://[::1]:9000"),
        ("events.local", "http://events.local:9000"),
    ],
)
def test_the_default_url_reaches_the_configured_daemon(host: str, url: str) -> None:
    assert default_url(make_config(server={"host": host, "port": 9000})) == url


def test_channels_default_to_events_and_repeat_once() -> None:
    assert make_options("http://h").channels == ("events",)
    options = make_options("http://h", channels=["stats", "events", "stats"], types=["a", "a"])
    assert options.channels == ("stats", "events")
    assert options.types == ("a",)
    assert options.feed_channels == ["events"]


def test_key_and_since_need_a_feed_channel() -> None:
    with pytest.raises(UsageError, match="--key"):
        make_options("http://h", channels=["stats"], keys=["web"])
    with pytest.raises(UsageError, match="--since"):
        make_options("http://h", channels=["stats"], since=0)
    assert make_options("http://h", channels=["stats", "reminders"], since=0).since == 0


def test_a_position_past_the_largest_says_the_bounds() -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"0 to 9223372036854775807\)"):
        parse_since("9223372036854775808")
    assert parse_since("9223372036854775807") == 2**63 - 1
