"""How deep JSON nests, read from its bytes without recursion and without a Python loop per byte.

Decoders (msgspec's included) recurse once per level and give up with `RecursionError` near
the interpreter's recursion limit, so depth is measured here first, with bytes methods only.
"""

from __future__ import annotations

import re

_STRUCTURE = b"[]{},"
_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(_STRUCTURE)))
_FOLD = bytes.maketrans(b"{}", b"[]")
# A group with nothing but separators left inside: its children are gone.
_INNERMOST = re.compile(rb"\[,*\]")


def shape(text: bytes, *, commas: bool = False) -> bytes:
    """Return the brackets of JSON `text` outside its strings, objects written as arrays."""
    # Escapes first, so that every quote left delimits a string: `\\` before `\"`.
    unescaped = text.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(unescaped.split(b'"')[::2])
    return outside.translate(_FOLD, _NOT_STRUCTURE if commas else _NOT_STRUCTURE + b",")


def deeper_than(text: bytes, limit: int) -> bool:
    """Tell whether JSON `text` nests arrays and objects more than `limit` levels deep."""
    if text.count(b"[") + text.count(b"{") <= limit:
        return False
    return bool(_strip_levels(shape(text), limit))


def first_deeper_item(text: bytes, limit: int) -> int | None:
    """Return the index of the first item of the JSON array `text` deeper than `limit` levels."""
    brackets = shape(text, commas=True)
    if not brackets.startswith(b"["):
        return None
    # What survives `limit + 1` passes is the array, its separators, and the deep items.
    survivors = _strip_levels(brackets[1:], limit)
    first = survivors.find(b"[")
    return None if first < 0 else survivors.count(b",", 0, first)


def _strip_levels(brackets: bytes, levels: int) -> bytes:
    """Remove every group at most `levels` deep, innermost first, with its separators."""
    for _ in range(levels):
        if not brackets:
            break
        brackets = _INNERMOST.sub(b"", brackets)
    return brackets
