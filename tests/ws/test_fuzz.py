"""Hostile frames against a live daemon: it never closes with 1011 and always answers `ping`.

Hypothesis draws each frame: arbitrary JSON values, commands with wrong types in every field,
huge numbers, deep nesting, and raw text, binary and non-UTF-8 frames. After each one the test
sends a `ping` and reads until its `pong`. The only closes allowed are the protocol's own for a
frame that breaks the WebSocket protocol (1007 for a text frame that is not UTF-8); the test
then connects again. The app runs on its own event loop, shared by every example of a test.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventd.app import create_app
from eventd.store.base import Engine
from eventd.store.memory import MemoryEngine
from eventd.store.redis.engine import RedisEngine
from tests.conftest import make_config
from tests.redis_server import RedisServer

INVALID_UTF8 = 1007  # the peer's own fault: RFC 6455 says close


@dataclass(frozen=True)
class Frame:
    kind: str  # "text", "binary" or "bytes-as-text"
    data: bytes
    label: str = ""  # what sort of hostility, for the tally


@dataclass
class Tally:
    frames: int = 0
    kinds: set[str] | None = None
    reconnects: int = 0
    internal_errors: int = 0


TALLY = Tally(kinds=set())


class Live:
    """A daemon on a loopback port and one WebSocket to it, on an event loop of their own."""

    def __init__(self, engine: Engine) -> None:
        self.loop = asyncio.new_event_loop()
        self.engine = engine
        self.pings = itertools.count()
        self.runner: web.AppRunner | None = None
        self.session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.url = ""

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    async def start(self) -> None:
        app = create_app(make_config(), engine=self.engine)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self.session = aiohttp.ClientSession()
        async with self.session.post(f"{self.url}/events", json=[{} for _ in range(30)]) as r:
            assert r.status == 201  # a history for `since` to replay
        await self.connect()

    async def connect(self) -> None:
        assert self.session is not None
        self.ws = await self.session.ws_connect(f"{self.url}/ws", max_msg_size=0)
        welcome = await self.ws.receive_json(timeout=5)
        assert welcome["type"] == "welcome"

    async def stop(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.session is not None:
            await self.session.close()
        if self.runner is not None:
            await self.runner.cleanup()

    async def exchange(self, frame: Frame) -> None:
        """Send `frame`, then a ping; return once its pong is read."""
        assert self.ws is not None
        if self.ws.closed:  # by an earlier example that failed
            await self.connect()
        TALLY.frames += 1
        assert TALLY.kinds is not None
        TALLY.kinds.add(frame.label or frame.kind)
        opcode = WSMsgType.BINARY if frame.kind == "binary" else WSMsgType.TEXT
        id = f"p{next(self.pings)}"
        try:
            await self.ws.send_frame(frame.data, opcode)
            await self.ws.send_json({"type": "ping", "id": id})
        except ConnectionError:
            pass  # closed by the server meanwhile: the read below says how
        while True:
            message = await self.ws.receive(timeout=10)
            if message.type == WSMsgType.TEXT:
                if json.loads(message.data) == {"type": "pong", "id": id}:
                    return
                continue
            await self.closed(frame, message)
            return

    async def closed(self, frame: Frame, message: aiohttp.WSMessage) -> None:
        assert self.ws is not None
        code = self.ws.close_code
        if code == 1011:
            TALLY.internal_errors += 1
        assert message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED), message
        assert (frame.kind, code) == ("bytes-as-text", INVALID_UTF8), (frame, code, message)
        TALLY.reconnects += 1
        await self.connect()


@pytest.fixture(scope="module")
def live_memory() -> Iterator[Live]:
    live = Live(MemoryEngine())
    live.run(live.start())
    yield live
    live.run(live.stop())
    live.loop.close()


@pytest.fixture(scope="module")
def live_redis(redis_server: RedisServer) -> Iterator[Live]:
    live = Live(RedisEngine(redis_server.url, namespace="fuzz"))
    live.run(live.start())
    yield live
    live.run(live.stop())
    live.loop.close()


def as_text(value: Any, label: str = "json value") -> Frame:
    return Frame("text", json.dumps(value).encode(), label)


# JSON of every shape, with integers past 64 bits.
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=15,
)

# Commands: each field either plausible or any JSON value at all.
plausible = {
    "id": st.text(max_size=12),
    "channels": st.lists(st.sampled_from(["events", "stats", "weather", ""]), max_size=3),
    "filter": st.fixed_dictionaries(
        {},
        optional={
            "type": st.text(max_size=5) | st.lists(st.text(max_size=5), max_size=3),
            "key": st.text(max_size=5) | st.lists(st.text(max_size=5), max_size=3),
        },
    ),
    "since": st.integers(min_value=-3, max_value=40) | st.integers(),
    "epoch": st.text(max_size=20),
    "windows": st.lists(st.sampled_from(["5m", "1h", "2h", "0s", "1d", "-5m", "9" * 5000])),
}
fields = {name: strategy | json_values for name, strategy in plausible.items()}
commands = st.fixed_dictionaries(
    {"type": st.sampled_from(["subscribe", "unsubscribe", "ping"]) | json_values},
    optional=fields | {"extra": json_values},
).map(lambda command: as_text(command, "command"))


def in_field(value: str, label: str) -> st.SearchStrategy[Frame]:
    """Put raw JSON text `value` into one field of one command."""
    return st.tuples(
        st.sampled_from(["subscribe", "unsubscribe", "ping"]), st.sampled_from(list(plausible))
    ).map(
        lambda pair: Frame(
            "text", f'{{"type":"{pair[0]}","id":"n","{pair[1]}":{value}}}'.encode(), label
        )
    )


digits = st.text(alphabet="0123456789", min_size=1, max_size=6000).filter(
    lambda d: d[0] != "0" or len(d) == 1
)
huge_numbers = st.tuples(st.sampled_from(["", "-"]), digits, st.sampled_from(["", ".5", "e999"]))
deep = st.integers(min_value=1, max_value=20_000)
extremes = st.one_of(
    huge_numbers.flatmap(lambda parts: in_field("".join(parts), "huge number")),
    deep.flatmap(lambda n: in_field("[" * n + "]" * n, "deep array")),
    st.integers(1, 10_000).flatmap(lambda n: in_field('{"a":' * n + "1" + "}" * n, "deep object")),
)

raw_frames = st.one_of(
    st.text(max_size=300).map(lambda text: Frame("text", text.encode(), "text")),
    st.binary(max_size=300).map(lambda data: Frame("binary", data, "binary")),
    json_values.map(as_text),
    # 0xff is never part of UTF-8: a text frame that carries it is not text.
    st.binary(max_size=100).map(lambda data: Frame("bytes-as-text", data + b"\xff", "non-UTF-8")),
    commands.map(lambda frame: Frame("binary", frame.data, "command as binary")),
)


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.function_scoped_fixture,
        ],
        database=None,  # the daemon's state carries over between examples: replays mislead
    )


@fuzz(400)
@given(frame=commands)
def test_commands_with_wrong_types_in_every_field(live_memory: Live, frame: Frame) -> None:
    live_memory.run(live_memory.exchange(frame))


@fuzz(150)
@given(frame=extremes)
def test_huge_numbers_and_deep_nesting(live_memory: Live, frame: Frame) -> None:
    live_memory.run(live_memory.exchange(frame))


@fuzz(300)
@given(frame=raw_frames)
def test_raw_text_binary_and_non_utf8_frames(live_memory: Live, frame: Frame) -> None:
    live_memory.run(live_memory.exchange(frame))


@pytest.mark.redis
@fuzz(200)
@given(frame=st.one_of(commands, extremes))
def test_commands_on_redis(live_redis: Live, frame: Frame) -> None:
    live_redis.run(live_redis.exchange(frame))


def test_tally(capsys: pytest.CaptureFixture[str]) -> None:
    """Say how many hostile frames the tests above sent (run after them, in file order)."""
    with capsys.disabled():
        print(
            f"\nws fuzz: {TALLY.frames} hostile frames of {len(TALLY.kinds or ())} kinds "
            f"({', '.join(sorted(TALLY.kinds or ()))}), "
            f"{TALLY.reconnects} protocol closes (1007), {TALLY.internal_errors} closes with 1011"
        )
    assert TALLY.internal_errors == 0
