"""The engine's Redis client: bounded round trips, a quick retry, commands packed in C."""

from __future__ import annotations

from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError


def connect(url: str, timeout: float) -> aioredis.Redis:
    """Return a client of `url` whose every round trip is bounded by `timeout` seconds."""
    client = aioredis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        # One quick retry rides over a pooled connection that died with a server restart.
        # A timeout is not retried: a hung server would make each retry wait it again.
        retry=Retry(
            ExponentialBackoff(cap=0.2, base=0.02),
            retries=2,
            supported_errors=(RedisConnectionError,),
        ),
        retry_on_error=[RedisConnectionError],
    )
    pool = client.connection_pool
    pool.connection_class = c_packing(pool.connection_class)
    for command in ("XRANGE", "XREAD"):
        # Feed entries stay `[id, [field, value, ...]]`: the scripts write the fields in a
        # known order, so `packing.change` reads them by position without a dict per entry.
        client.set_response_callback(command, _as_sent)
    return client


def _as_sent(response: Any, **options: Any) -> Any:
    return response


class CPacking:
    """Packs commands with hiredis' packer, written in C, in place of redis-py's own, in
    Python (docs/benchmarks.md, scenario 2, compares the two)."""

    def pack_command(self, *args: Any) -> list[bytes]:
        if isinstance(args[0], str) and " " in args[0]:  # as redis-py: "SCRIPT LOAD", ...
            args = (*args[0].split(), *args[1:])
        try:
            return [hiredis.pack_command(args)]
        except TypeError as exc:
            raise DataError(str(exc)) from exc


_C_PACKING: dict[type[Any], type[Any]] = {}


def c_packing(connection_class: type[Any]) -> type[Any]:
    """Return `connection_class` (TCP, TLS or Unix socket) packing with hiredis."""
    if connection_class not in _C_PACKING:
        name = f"CPacking{connection_class.__name__}"
        _C_PACKING[connection_class] = type(name, (CPacking, connection_class), {})
    return _C_PACKING[connection_class]
