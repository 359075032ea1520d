"""Field paths: where in an event a timeline reads its value, or a search compares one.

A path names `value`, `type` or `title` of the event, or a place inside its `data`:

- dotted: `status`, `order.state`, `items.0.state` (a segment of digits indexes a list);
- a JSON Pointer (RFC 6901), which begins with `/`: `/a.b` is the key `a.b` of `data`, and
  `~1` and `~0` stand for `/` and `~` in a key.

Nothing is flattened: `{"a.b": 1}` is read by `/a.b` only, `{"a": {"b": 2}}` by `a.b` or
`/a/b`. Values compare by JSON equality (`canonical`): `1` equals `1.0`, `true` is not `1`,
and objects compare whatever the order of their keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import msgspec

if TYPE_CHECKING:  # the settings read paths, and the event model reads the settings
    from eventd.model import Event

MAX_PATH_CHARS = 256
MAX_PATH_DEPTH = 32
TOP_LEVEL = ("value", "type", "title")
_INDEX = re.compile(r"0|[1-9][0-9]{0,8}")  # a list index, as JSON Pointer writes it
_BAD_ESCAPE = re.compile(r"~(?![01])")


class PathError(ValueError):
    """A field path that cannot be read; the message says why."""


class _Missing:
    """The value of a path that an event does not have."""

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


@dataclass(frozen=True, slots=True)
class FieldPath:
    """A parsed path: `top` names an event field, or is None for a place in `data`."""

    text: str
    top: str | None
    parts: tuple[str, ...]

    @property
    def key(self) -> str:
        """Return the path in one canonical spelling: equal places give equal keys."""
        if self.top is not None:
            return self.top
        return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in self.parts)

    def read(self, event: Event) -> Any:
        """Return the value at this path in `event`, or `MISSING`."""
        if self.top is not None:
            value = getattr(event, self.top)
            return MISSING if value is None else value
        try:
            data = msgspec.json.decode(event.data)
        except msgspec.DecodeError:  # stored before numbers were checked (see model.py)
            return MISSING
        return self.read_data(data)

    def read_data(self, data: Any) -> Any:
        """Return the value at this path in decoded `data`, or `MISSING`."""
        node = data
        for part in self.parts:
            if isinstance(node, dict):
                if part not in node:
                    return MISSING
                node = node[part]
            elif isinstance(node, list) and _INDEX.fullmatch(part) and int(part) < len(node):
                node = node[int(part)]
            else:
                return MISSING
        return node


def parse_path(text: str) -> FieldPath:
    """Read a field path; raise `PathError` saying what is wrong with it."""
    if not text:
        raise PathError("must not be empty")
    if len(text) > MAX_PATH_CHARS:
        raise PathError(f"must be at most {MAX_PATH_CHARS} characters")
    if text.startswith("/"):
        if _BAD_ESCAPE.search(text):
            raise PathError("'~' must be followed by 0 or 1 in a JSON Pointer")
        parts = tuple(part.replace("~1", "/").replace("~0", "~") for part in text[1:].split("/"))
    elif text in TOP_LEVEL:
        return FieldPath(text, text, ())
    else:
        parts = tuple(text.split("."))
        if "" in parts:
            raise PathError(
                "has an empty segment (a JSON Pointer such as /a.b names a key with dots)"
            )
    if len(parts) > MAX_PATH_DEPTH:
        raise PathError(f"must have at most {MAX_PATH_DEPTH} segments")
    return FieldPath(text, None, parts)


def _normal(value: Any) -> Any:
    """Return `value` with every integral float as an int, so that 1.0 encodes as 1."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normal(item) for item in value]
    return value


def canonical(value: Any) -> str:
    """Return `value` as canonical JSON text: equal JSON values give equal texts."""
    if isinstance(value, str):
        return msgspec.json.encode(value).decode()
    return msgspec.json.encode(_normal(value), order="sorted").decode()


def parse_value(text: str) -> Any:
    """Read a searched-for value: JSON when it parses as JSON, else the text as a string;
    raise ValueError for JSON nested too deeply to decode."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text
    except RecursionError:  # msgspec's own depth guard: the text is JSON, just too deep
        raise ValueError("a value nested too deeply") from None
