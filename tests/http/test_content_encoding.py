"""Compressed request bodies: inflated in bounded steps, never past limits.max_body_bytes."""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from eventd.http.decoding import MAX_MEMBERS, inflate
from tests.conftest import MakeClient, make_config
from tests.http.test_hostile_input import NDJSON, answer, assert_unchanged, seeded

__all__ = ["seeded"]  # a fixture, used by name

EVENT = b'{"type": "zipped", "timestamp": 2}'


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    return compressor.compress(data) + compressor.flush()


@functools.cache
def bomb() -> bytes:
    """Return about 1 MiB of gzip that inflates to 1 GiB of zeros: 16 members of 64 MiB."""
    member = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    one = b"".join(member.compress(zeros) for _ in range(64)) + member.flush()
    return one * 16


GOOD = {
    "gzip": ("gzip", gzip.compress(EVENT)),
    "x-gzip": ("x-gzip", gzip.compress(EVENT)),
    "upper-case": ("GZIP", gzip.compress(EVENT)),
    "two-members": ("gzip", gzip.compress(EVENT[:10]) + gzip.compress(EVENT[10:])),
    "deflate": ("deflate", zlib.compress(EVENT)),
    "raw-deflate": ("deflate", raw_deflate(EVENT)),
    "identity": ("identity", EVENT),
    "identity-and-gzip": ("identity, gzip", gzip.compress(EVENT)),
}


@pytest.mark.parametrize(("coding", "body"), GOOD.values(), ids=GOOD.keys())
@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/events"), ("PUT", "/events/a"), ("POST", "/event")]
)
async def test_compressed_bodies_are_inflated(
    seeded: TestClient[Any, Any], method: str, path: str, coding: str, body: bytes
) -> None:
    if path == "/event":
        body = gzip.compress(b'{"timestamp": 2, "value": 1}') if "gzip" in coding.lower() else body
        body = zlib.compress(b'{"timestamp": 2, "value": 1}') if coding == "deflate" else body
        body = b'{"timestamp": 2, "value": 1}' if coding == "identity" else body
    response = await seeded.request(method, path, data=body, headers={"Content-Encoding": coding})
    assert response.status in (200, 201), await response.text()
    assert (await seeded.get("/events?start=2&end=2")).status == 200
    listed = await (await seeded.get("/events?start=2&end=2")).json()
    assert len(listed["events"]) == 1


async def test_gzipped_ndjson_is_inflated(seeded: TestClient[Any, Any]) -> None:
    body = gzip.compress(b'{"type": "a"}\n{"type": "b"}\n')
    headers = {"Content-Encoding": "gzip"} | NDJSON
    response = await seeded.post("/events", data=body, headers=headers)
    assert response.status == 201
    assert len((await response.json())["events"]) == 2


BAD = {
    "not-gzip": ("gzip", EVENT),
    "truncated": ("gzip", gzip.compress(EVENT)[:-6]),
    "garbage-after": ("gzip", gzip.compress(EVENT) + b"garbage"),
    "bad-crc": ("gzip", gzip.compress(EVENT)[:-8] + b"\0\0\0\0" + gzip.compress(EVENT)[-4:]),
    "not-deflate": ("deflate", b"\xff" * 40),
    "deflate-then-more": ("deflate", zlib.compress(EVENT) + b"x"),
    "empty-gzip": ("gzip", b""),
    "gzip-of-invalid-utf8": ("gzip", gzip.compress(b'{"data": "\xff"}')),
}


@pytest.mark.parametrize(("coding", "body"), BAD.values(), ids=BAD.keys())
@pytest.mark.parametrize(("method", "path"), [("POST", "/events"), ("PATCH", "/events/a")])
async def test_a_body_that_does_not_decode_is_malformed(
    seeded: TestClient[Any, Any], method: str, path: str, coding: str, body: bytes
) -> None:
    error = await answer(seeded, method, path, data=body, headers={"Content-Encoding": coding})
    assert (error["status"], error["code"]) == (400, "malformed_body"), error
    await assert_unchanged(seeded)
    assert (await seeded.get("/health")).status == 200


@pytest.mark.parametrize("coding", ["br", "compress", "zstd", "gzip, gzip", "gzip;q=1", "*"])
async def test_an_unknown_content_encoding_is_415(
    seeded: TestClient[Any, Any], coding: str
) -> None:
    error = await answer(
        seeded, "POST", "/events", data=EVENT, headers={"Content-Encoding": coding}
    )
    assert (error["status"], error["code"]) == (415, "unsupported_media_type"), error
    assert "gzip" in error["message"]
    await assert_unchanged(seeded)


async def test_the_limit_applies_to_the_inflated_body(make_client: MakeClient) -> None:
    client = await make_client(make_config(limits={"max_body_bytes": 4096}))
    title = json.dumps({"title": "x" * 4000}).encode()
    response = await client.post(
        "/events", data=gzip.compress(title), headers={"Content-Encoding": "gzip"}
    )
    assert response.status == 201
    over = json.dumps({"title": "x" * 4100}).encode()
    error = await answer(
        client, "POST", "/events", data=gzip.compress(over), headers={"Content-Encoding": "gzip"}
    )
    assert (error["status"], error["code"]) == (413, "too_large"), error
    assert "4096" in error["message"]


async def test_a_gzip_bomb_is_413_and_the_daemon_keeps_answering(
    seeded: TestClient[Any, Any],
) -> None:
    sent = asyncio.Event()

    async def upload() -> AsyncIterator[bytes]:
        data = bomb()
        for start in range(0, len(data), 1 << 16):
            yield data[start : start + (1 << 16)]
        sent.set()

    in_flight = asyncio.ensure_future(
        seeded.post("/events", data=upload(), headers={"Content-Encoding": "gzip"})
    )
    await sent.wait()
    # The whole bomb is on its way; the daemon still answers others while it inflates.
    health = await seeded.get("/health")
    assert health.status == 200
    assert not in_flight.done()
    response = await in_flight
    assert response.status == 413
    error = (await response.json())["error"]
    assert error["code"] == "too_large"
    await assert_unchanged(seeded)


def empty_members(count: int) -> bytes:
    """Return an event in gzip followed by `count` empty gzip members."""
    return gzip.compress(EVENT, mtime=0) + gzip.compress(b"", mtime=0) * count


async def test_a_body_of_too_many_gzip_members_is_413(seeded: TestClient[Any, Any]) -> None:
    body = empty_members((1 << 20) // 20)  # 1 MiB of empty members
    error = await answer(seeded, "POST", "/events", data=body, headers={"Content-Encoding": "gzip"})
    assert (error["status"], error["code"]) == (413, "too_large"), error
    assert str(MAX_MEMBERS) in error["message"] and "members" in error["message"]
    await assert_unchanged(seeded)
    assert (await seeded.get("/health")).status == 200


async def test_gzip_members_up_to_the_cap_are_inflated(seeded: TestClient[Any, Any]) -> None:
    body = empty_members(MAX_MEMBERS - 1)
    response = await seeded.post("/events", data=body, headers={"Content-Encoding": "gzip"})
    assert response.status == 201, await response.text()


async def test_inflating_many_empty_members_yields_to_the_loop() -> None:
    inflating = asyncio.ensure_future(inflate(empty_members(MAX_MEMBERS - 1), "gzip", 1 << 20))
    await asyncio.sleep(0)  # the inflation runs up to its first yield
    assert not inflating.done()
    assert await inflating == EVENT
