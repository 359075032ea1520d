"""Turn the feed's messages into lines for a person: one per change, reminder or window."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

# SGR colours by what happened: green created, yellow updated, red deleted, magenta
# cleared, cyan reminders, blue statistics.
COLOURS = {
    "created": "32",
    "updated": "33",
    "deleted": "31",
    "cleared": "35",
    "reminder": "36",
    "stats": "34",
}
DIM = "2"
STATS_FIGURES = ("count", "mean", "min", "max", "p50", "p90", "p99")
TIME_WIDTH = len("2025-06-01T12:00:00.000000Z")  # how the daemon writes every time


class Style:
    """Paint text with ANSI colours, or leave it plain."""

    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def paint(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.colour else text


def render(message: Mapping[str, Any], style: Style) -> list[str]:
    """Return the lines that show `message` (none for a kind it does not show)."""
    kind = message.get("type")
    if kind == "change":
        return [_change(message, style)]
    if kind == "reminder":
        return [_reminder(message, style)]
    if kind == "stats":
        return _stats(message, style)
    return []


def _change(message: Mapping[str, Any], style: Style) -> str:
    op = clean(message["op"])
    event = message.get("event")
    if not isinstance(event, dict):  # `cleared` names no event
        head = _head(None, message, op, style)
        return f"{head}  epoch {clean(message.get('epoch'))}"
    value = event.get("value")
    shown = "-" if value is None else msgspec.json.encode(value).decode()
    return "  ".join([_head(event.get("timestamp"), message, op, style), *_names(event), shown])


def _reminder(message: Mapping[str, Any], style: Style) -> str:
    reminder = message.get("reminder") or {}
    event = message.get("event") or {}
    head = _head(reminder.get("starts_at"), message, "reminder", style)
    return "  ".join([head, *_names(event), clean(reminder.get("message"))])


def _stats(message: Mapping[str, Any], style: Style) -> list[str]:
    time = style.paint(clean(message.get("server_time")).ljust(TIME_WIDTH), DIM)
    kind = clean(message.get("stats_type") or "*")
    lines = []
    for window, figures in (message.get("windows") or {}).items():
        shown = " ".join(f"{name}={_figure(figures.get(name))}" for name in STATS_FIGURES)
        op = style.paint(f"{'stats':<8}", COLOURS["stats"])
        lines.append(f"{time}  {op}  {kind}  {clean(window)}  {shown}")
    return lines


def _head(time: object, message: Mapping[str, Any], op: str, style: Style) -> str:
    """Return the time, position and operation columns."""
    when = style.paint(clean(time).ljust(TIME_WIDTH), DIM)
    position = style.paint(f"#{clean(message.get('position'))}", DIM)
    return f"{when}  {position}  {style.paint(f'{op:<8}', COLOURS.get(op, DIM))}"


def _names(event: Mapping[str, Any]) -> list[str]:
    return [clean(event.get("type")), clean(event.get("key")), clean(event.get("title"))]


def _figure(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return clean(value)


def clean(value: object) -> str:
    """Return `value` as text safe for a terminal: no control or escape characters.

    Event data is untrusted: a title holding ESC sequences must not drive the terminal,
    and one holding a newline must not fake a line.
    """
    if value is None or value == "":
        return "-"
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else _escape(char) for char in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
