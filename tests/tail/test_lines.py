"""The lines `eventd tail` prints for each kind of message."""

from __future__ import annotations

import pytest

from eventd.tail.lines import Style, clean, render

PLAIN = Style(colour=False)
T = "2025-06-01T12:00:00.250000Z"


def test_a_change_shows_time_position_op_type_key_title_value() -> None:
    event = {"timestamp": T, "type": "deploy", "key": "web", "title": "v2", "value": 1e-7}
    message = {"type": "change", "position": 42, "op": "updated", "event": event}
    assert render(message, PLAIN) == [f"{T}  #42  updated   deploy  web  v2  1e-7"]


def test_a_clear_shows_its_new_epoch() -> None:
    message = {"type": "change", "position": 9, "op": "cleared", "event": None, "epoch": "5f0c"}
    assert render(message, PLAIN) == [f"{'-':<27}  #9  cleared   epoch 5f0c"]


def test_a_reminder_shows_when_its_event_starts_and_its_message() -> None:
    text = "Event 'Standup' starts in 5 minutes, at 12:00 UTC"
    reminder = {"starts_at": T, "message": text}
    event = {"type": "meeting", "key": None, "title": "Standup"}
    message = {"type": "reminder", "position": 57, "reminder": reminder, "event": event}
    assert render(message, PLAIN) == [f"{T}  #57  reminder  meeting  -  Standup  {text}"]


def test_stats_show_one_line_per_window() -> None:
    windows = {
        "5m": {"count": 3, "mean": 1 / 3, "min": 0.0, "max": 1.0, "p50": 0.0, "p90": 1.0},
        "1h": {"count": 0, "mean": None, "min": None, "max": None},
    }
    message = {"type": "stats", "server_time": T, "stats_type": "deploy", "windows": windows}
    assert render(message, PLAIN) == [
        f"{T}  stats     deploy  5m  count=3 mean=0.333333 min=0 max=1 p50=0 p90=1 p99=-",
        f"{T}  stats     deploy  1h  count=0 mean=- min=- max=- p50=- p90=- p99=-",
    ]


def test_colours_mark_the_operation_and_dim_the_time() -> None:
    message = {"type": "change", "position": 1, "op": "deleted", "event": {"timestamp": T}}
    [line] = render(message, Style(colour=True))
    assert line.startswith(f"\x1b[2m{T}\x1b[0m  \x1b[2m#1\x1b[0m  \x1b[31mdeleted \x1b[0m")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("plain text, é 漢", "plain text, é 漢"),
        ("a\x1b[31mred", "a\\x1b[31mred"),
        ("two\nlines\r", "two\\x0alines\\x0d"),
        ("right\u202eto left", "right\\u202eto left"),
        ("\ud800", "\\ud800"),
        (None, "-"),
        ("", "-"),
        (0, "0"),
    ],
)
def test_clean_leaves_nothing_a_terminal_would_act_on(value: object, shown: str) -> None:
    assert clean(value) == shown


def test_other_messages_print_nothing() -> None:
    assert render({"type": "pong", "id": 1}, PLAIN) == []
