"""The engine's Redis client packs commands with hiredis, as redis-py would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio.connection import Connection, SSLConnection, UnixDomainSocketConnection
from redis.exceptions import DataError

from eventd.store.base import Engine
from eventd.store.redis.client import CPacking, c_packing
from eventd.store.redis.engine import RedisEngine
from tests.store.test_conformance import ev


@pytest.fixture
async def engine(redis_engine: Engine) -> AsyncIterator[Engine]:
    await redis_engine.open()
    yield redis_engine
    await redis_engine.close()


@pytest.mark.parametrize(
    "args",
    [
        ("EVALSHA", "0" * 40, 2, "{ns}:a", b"raw", "\u00e9t\u00e9", 7, -3),
        ("SCRIPT LOAD", "return 1"),
        ("GET", b""),
    ],
)
def test_commands_are_packed_as_redis_py_packs_them(args: tuple[object, ...]) -> None:
    # The engine packs commands with hiredis (C); redis-py's Python packer is the reference.
    reference = b"".join(Connection().pack_command(*args))
    assert b"".join(CPacking().pack_command(*args)) == reference


@pytest.mark.parametrize("kind", [Connection, SSLConnection, UnixDomainSocketConnection])
def test_every_kind_of_connection_packs_with_hiredis(kind: type[Connection]) -> None:
    # The engine wraps whatever class the URL chose (redis://, rediss://, unix://).
    packing = c_packing(kind)
    assert issubclass(packing, kind) and packing.pack_command is CPacking.pack_command
    assert c_packing(kind) is packing


@pytest.mark.redis
async def test_the_engines_connections_pack_with_hiredis(engine: Engine) -> None:
    assert isinstance(engine, RedisEngine)
    pool = engine._client.connection_pool
    assert issubclass(pool.connection_class, CPacking)
    await engine.put_many([ev("a")])  # a command went through such a connection
    assert await engine.get("a") is not None


def test_an_argument_of_no_redis_type_is_a_data_error() -> None:
    with pytest.raises(DataError):
        CPacking().pack_command("SET", "k", None)
