"""Hostile `Origin` and `Host` headers against a live daemon: never a 5xx.

Hypothesis draws both header values: arbitrary text (as UTF-8), arbitrary bytes, and text
made of the characters URL parsers trip over (`[]@:/?#%`, backslashes, zero-width and
full-width dots), alone or after `http://`. Each request goes over a raw socket, since
aiohttp's client refuses some of these values, to `/health`, `/events` (a POST) or the `/ws`
handshake, of a daemon bound to loopback (where `Host` is checked) and of one configured
for a public bind (where the own origin is read from `Host`). Only CR and LF are left out:
they end a header line rather than being part of its value. The apps run on an event loop
of their own, shared by every example of a test.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from eventd.app import create_app
from tests.conftest import make_config

# Pieces of authorities that make URL parsers take odd paths: yarl raised IndexError for
# brackets before an "@" ("http://[]@", "http://0][-@"), ValueError for many others.
TRICKY = [*"[]@:/?#%.a0 \\", "::1", "xn--", "\t", "\x00", "é", "\u200b", "\uff0e", "\u3002"]
REQUESTS = {
    "health": b"GET /health HTTP/1.1\r\n",
    "post": b"POST /events HTTP/1.1\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n",
    "ws": (
        b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
    ),
}
BODIES = {"post": b"{}"}


@dataclass
class Tally:
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


TALLY = Tally()


class Live:
    """A daemon on a loopback port, on an event loop of its own."""

    def __init__(self, bind: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.bind = bind
        self.runner: web.AppRunner | None = None
        self.port = 0

    def run(self, coro: object) -> object:
        return self.loop.run_until_complete(coro)  # type: ignore[arg-type]

    async def start(self) -> None:
        # A listed host would check Host on the public bind too: list one on loopback only.
        hosts = ["eventd.example"] if self.bind.startswith("127.") else []
        config = make_config(
            server={"host": self.bind},
            http={"cors_origins": ["https://dash.example"], "allowed_hosts": hosts},
        )
        self.runner = web.AppRunner(create_app(config))
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def status(self, kind: str, host: bytes | None, origin: bytes | None) -> int:
        """Send one request with these header values; return the answer's status."""
        head = REQUESTS[kind]
        if host is not None:
            head += b"Host: " + host + b"\r\n"
        if origin is not None:
            head += b"Origin: " + origin + b"\r\n"
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            writer.write(head + b"Connection: close\r\n\r\n" + BODIES.get(kind, b""))
            line = await reader.readline()
        finally:
            writer.close()
            await writer.wait_closed()
        assert line.startswith(b"HTTP/1."), line  # 1.0: a header aiohttp cannot parse
        return int(line.split()[1])


def started(bind: str) -> Iterator[Live]:
    live = Live(bind)
    live.run(live.start())
    yield live
    live.run(live.stop())
    live.loop.close()


@pytest.fixture(scope="module")
def loopback() -> Iterator[Live]:
    yield from started("127.0.0.1")


@pytest.fixture(scope="module")
def public() -> Iterator[Live]:
    yield from started("0.0.0.0")  # only the setting: the socket listens on loopback


def no_line_breaks(value: bytes) -> bytes:
    return value.replace(b"\r", b"").replace(b"\n", b"")


tricky = st.lists(st.sampled_from(TRICKY), max_size=8).map("".join)
# userinfo@host[:port] with brackets, colons and dots on both sides of the "@".
piece = st.lists(st.sampled_from([*"[]:.a0%"]), max_size=5).map("".join)
authorities = st.builds(lambda user, host: f"{user}@{host}", piece, piece)
values = st.one_of(
    tricky,
    tricky.map(lambda text: f"http://{text}"),
    authorities,
    authorities.map(lambda text: f"http://{text}"),
    st.text(max_size=40),
).map(lambda text: no_line_breaks(text.encode("utf-8", "surrogatepass")))
header = st.one_of(values, st.binary(max_size=40).map(no_line_breaks), st.none())
kinds = st.sampled_from(sorted(REQUESTS))

fuzz = settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
    database=None,  # the daemon's state carries over between examples: replays mislead
)


def crashers(test: Callable[..., None]) -> Callable[..., None]:
    """Add the values that gave a 500 before as explicit examples of `test`."""
    known = [(b"127.0.0.1", b"http://[]@"), (b"[]@", b"http://x"), (b"[]@", None)]
    for host, origin in known:
        test = example(kind="post", host=host, origin=origin)(test)
    return test


def exchange(live: Live, kind: str, host: bytes | None, origin: bytes | None) -> None:
    status = live.run(live.status(kind, host, origin))
    assert isinstance(status, int)
    TALLY.requests += 1
    TALLY.statuses[status] = TALLY.statuses.get(status, 0) + 1
    assert status < 500, (kind, host, origin, status)


@fuzz
@given(kind=kinds, host=header, origin=header)
@crashers
def test_hostile_headers_on_a_loopback_bind(
    loopback: Live, kind: str, host: bytes | None, origin: bytes | None
) -> None:
    exchange(loopback, kind, host, origin)


@fuzz
@given(kind=kinds, host=header, origin=header)
@crashers
def test_hostile_headers_on_a_public_bind(
    public: Live, kind: str, host: bytes | None, origin: bytes | None
) -> None:
    exchange(public, kind, host, origin)


def test_tally(capsys: pytest.CaptureFixture[str]) -> None:
    """Say how many hostile requests the tests above sent (run after them, in file order)."""
    statuses = ", ".join(f"{n} x {status}" for status, n in sorted(TALLY.statuses.items()))
    with capsys.disabled():
        print(f"\norigin fuzz: {TALLY.requests} hostile requests: {statuses}")
    assert not any(status >= 500 for status in TALLY.statuses)
