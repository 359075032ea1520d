"""Field paths: dotted paths and JSON Pointers, read without flattening; JSON equality."""

from __future__ import annotations

import msgspec
import pytest

from eventd.fields import MISSING, PathError, canonical, parse_path, parse_value
from eventd.model import Event


def event(data: object, **fields: object) -> Event:
    base: dict[str, object] = dict(
        id="e", ts=0, seq=1, type="event", key="k", title=None, description=None,
        value=None, remind=None, created=0, updated=0,
    )  # fmt: skip
    return Event(data=msgspec.Raw(msgspec.json.encode(data)), **(base | fields))  # type: ignore[arg-type]


def test_dotted_paths_and_pointers_do_not_collide() -> None:
    flat = event({"a.b": 1})
    nested = event({"a": {"b": 2}})
    assert parse_path("/a.b").read(flat) == 1
    assert parse_path("/a.b").read(nested) is MISSING
    assert parse_path("a.b").read(nested) == 2
    assert parse_path("/a/b").read(nested) == 2
    assert parse_path("a.b").read(flat) is MISSING


def test_pointer_escapes_and_list_indexes() -> None:
    e = event({"a/b": {"~c": 3}, "items": [{"state": "x"}, {"state": "y"}]})
    assert parse_path("/a~1b/~0c").read(e) == 3
    assert parse_path("items.1.state").read(e) == "y"
    assert parse_path("items.2.state").read(e) is MISSING
    assert parse_path("items.01.state").read(e) is MISSING


def test_top_level_fields_and_present_nulls() -> None:
    e = event({"status": None}, value=2.5, title=None)
    assert parse_path("value").read(e) == 2.5
    assert parse_path("type").read(e) == "event"
    assert parse_path("title").read(e) is MISSING
    assert parse_path("status").read(e) is None  # a JSON null is a value


def test_equal_places_share_a_key() -> None:
    assert parse_path("status").key == parse_path("/status").key
    assert parse_path("a.b").key == parse_path("/a/b").key
    assert parse_path("/a.b").key != parse_path("a.b").key


@pytest.mark.parametrize("text", ["", "a..b", ".a", "/a~2", "x" * 257, ".".join("a" * 33)])
def test_bad_paths_say_why(text: str) -> None:
    with pytest.raises(PathError):
        parse_path(text)


def test_json_equality() -> None:
    assert canonical(1) == canonical(1.0)
    assert canonical(True) != canonical(1)
    assert canonical({"a": 1, "b": [2.0]}) == canonical({"b": [2], "a": 1})
    assert canonical("1") != canonical(1)
    assert canonical(None) == "null"


def test_searched_values_read_as_json_else_text() -> None:
    assert parse_value("5") == 5
    assert parse_value('"5"') == "5"
    assert parse_value("wait") == "wait"
    assert parse_value("null") is None
    assert parse_value('{"a": 1}') == {"a": 1}


@pytest.mark.parametrize("depth", [1000, 5000])
def test_json_too_deep_to_decode_is_a_value_error(depth: int) -> None:
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_value("[" * depth + "]" * depth)
