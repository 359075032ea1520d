"""The `message` text of a reminder: the name, the time left in words, the start's clock time."""

from __future__ import annotations

from datetime import UTC
from zoneinfo import ZoneInfo

import pytest

from eventd.reminders.text import describe
from eventd.store.base import Change, Reminder
from eventd.times import parse_timestamp
from tests.store.test_conformance import ev

START = parse_timestamp("2025-06-01T12:00:00Z", None)


def change(seconds_left: float, *, title: str | None = "Standup", type: str = "meeting") -> Change:
    """Return a `reminder` change sent `seconds_left` before its event starts."""
    event = ev("a", ts=START, title=title, type=type)
    sent_at = START - round(seconds_left * 1_000_000)
    reminder = Reminder("a", START, 300, START - 300_000_000, 0, type, None, "sent", sent_at)
    return Change(9, "reminder", event, reminder=reminder)


@pytest.mark.parametrize(
    ("left", "span"),
    [
        (299.8, "5 minutes"),
        (300, "5 minutes"),
        (0.2, "1 second"),
        (1, "1 second"),
        (59, "59 seconds"),
        (60, "1 minute"),
        (89, "1 minute"),
        (90, "2 minutes"),
        (3569, "59 minutes"),
        (3570, "1 hour"),
        (5400, "1 hour 30 minutes"),
        (7200, "2 hours"),
        (86_400, "1 day"),
        (86_400 + 3600, "1 day 1 hour"),
        (2 * 86_400 + 23 * 3600 + 45 * 60, "3 days"),
    ],
)
def test_the_time_left_in_words(left: float, span: str) -> None:
    text = describe(change(left), UTC)
    assert text.startswith(f"Event 'Standup' starts in {span}, at "), text


def test_the_start_in_the_zone_and_with_its_date_when_another_day() -> None:
    assert describe(change(300), UTC) == "Event 'Standup' starts in 5 minutes, at 12:00 UTC"
    paris = ZoneInfo("Europe/Paris")
    assert describe(change(300), paris) == "Event 'Standup' starts in 5 minutes, at 14:00 CEST"
    # Sent on 2025-05-31 (UTC) for a start on 2025-06-01.
    assert describe(change(13 * 3600), UTC) == (
        "Event 'Standup' starts in 13 hours, at 2025-06-01 12:00 UTC"
    )


def test_an_event_without_a_title_is_named_by_its_type() -> None:
    assert describe(change(300, title=None, type="deploy"), UTC).startswith(
        "Event 'deploy' starts in 5 minutes"
    )
    assert describe(change(300, title="", type="deploy"), UTC).startswith("Event 'deploy'")
