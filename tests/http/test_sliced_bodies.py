"""A large POST body is decoded in slices, with the same events, or the same error, as the
whole body decoded at once (`bodies._decoded_at_once`, what eventd always did)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from eventd import pacing
from eventd.errors import ApiError
from eventd.http import bodies

MAX_DEPTH = 8


@pytest.fixture(autouse=True)
def tiny_slices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices of a few lines, so that small bodies are cut in many places."""
    monkeypatch.setattr(bodies, "SLICE_BYTES", 40)
    monkeypatch.setattr(pacing, "SLICE_SECONDS", 0.0)


def lines(count: int, *extra: str) -> bytes:
    events = [
        json.dumps({"timestamp": 1_700_000_000 + i, "type": f"t{i % 3}"}) for i in range(count)
    ]
    return ("\n".join([*events, *extra]) + "\n").encode()


def array(count: int, *extra: str) -> bytes:
    events = [json.dumps({"timestamp": 1_700_000_000 + i, "value": i}) for i in range(count)]
    return ("[" + ",\n".join([*events, *extra]) + "]").encode()


def outcome(call: Any) -> Any:
    try:
        items, batch = call()
    except ApiError as exc:
        return ("error", type(exc).__name__, exc.message, exc.field, getattr(exc, "index", None))
    return ("ok", batch, items)


def at_once(body: bytes, ndjson: bool) -> Any:
    def decode() -> Any:
        bodies._require(body)
        decoded = bodies._decoded_at_once(body, ndjson, MAX_DEPTH)
        return (decoded, True) if isinstance(decoded, list) else ([decoded], False)

    return outcome(decode)


def sliced(body: bytes, ndjson: bool) -> Any:
    def decode() -> Any:
        run = bodies.parse_events(body, ndjson=ndjson, max_batch=10**6, max_depth=MAX_DEPTH)
        return asyncio.run(run)

    return outcome(decode)


DEEP = '{"data": ' + "[" * 20 + "]" * 20 + "}"
NDJSON = {
    "valid": lines(40),
    "blank lines": lines(20, "", "  ", *[json.dumps({"type": "x"})] * 3),
    "an object over several lines": lines(10, '{"type":\n"b",\n"key":\n\n"k"}', '{"type": "c"}'),
    "a bad field in the last line": lines(40, '{"type": 1}'),
    "an unknown field in the last line": lines(40, '{"colour": "red"}'),
    "malformed last line": lines(40, '{"type": "a",,}'),
    "malformed line in the middle": lines(20, '{"type" "a"}', *[json.dumps({"type": "z"})] * 20),
    "truncated end": lines(40) + b'{"type": "a"',
    "lone surrogate in the middle": lines(20, '{"type": "\\ud800"}', '{"type": "b"}'),
    "deep data at the end": lines(20, DEEP),
    "a string across lines": lines(5, '{"type": "a', 'b"}'),
    "not an object": lines(30, "17"),
}
ARRAYS = {
    "valid": array(40),
    "a bad field at the end": array(40, '{"value": "x"}'),
    "an unknown field at the end": array(40, '{"colour": 1}'),
    "malformed at the end": array(40, '{"value": tru}'),
    "a bad escape at the end": array(40, '{"type": "\\x"}'),
    "a huge number": array(40, '{"value": 1e999}'),
    "a leading zero after an unknown field": array(40, '{"a": 01}'),
    "not an object": array(30, "[1]"),
    "deep data at the end": array(20, DEEP),
    "garbage after the array": array(20) + b" x",
    "one object": json.dumps({"type": "a", "title": "x" * 200}).encode(),
}


@pytest.mark.parametrize("body", NDJSON.values(), ids=NDJSON.keys())
def test_ndjson_in_slices_as_at_once(body: bytes) -> None:
    assert sliced(body, ndjson=True) == at_once(body, ndjson=True)


@pytest.mark.parametrize("body", ARRAYS.values(), ids=ARRAYS.keys())
def test_arrays_in_slices_as_at_once(body: bytes) -> None:
    assert sliced(body, ndjson=False) == at_once(body, ndjson=False)


def test_errors_name_the_last_line() -> None:
    result = sliced(lines(40, '{"type": 1}'), ndjson=True)
    assert result[0] == "error" and result[3] == "type" and result[4] == 40
    assert "(line 41)" in result[2]


async def test_decoding_a_large_body_lets_other_tasks_run() -> None:
    body = lines(2_000)
    turns = 0

    async def count() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count())
    await asyncio.sleep(0)
    before = turns
    items, _ = await bodies.parse_events(body, ndjson=True, max_batch=10**6, max_depth=8)
    counter.cancel()
    assert len(items) == 2_000
    assert turns - before >= 100  # one turn per slice of about 40 bytes


async def test_decoding_a_large_array_lets_other_tasks_run() -> None:
    turns = 0

    async def count() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count())
    await asyncio.sleep(0)
    before = turns
    items, _ = await bodies.parse_events(array(2_000), ndjson=False, max_batch=10**6, max_depth=8)
    counter.cancel()
    assert len(items) == 2_000
    assert turns - before >= 100
