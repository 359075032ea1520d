"""The `message` text of a sent reminder, e.g. "Event 'Standup' starts in 5 minutes, at 09:30 UTC".

The exact form (also in docs/websocket.md): `Event '<name>' starts in <span>, at <time> <zone>`.
- `<name>`: the event's title, or its type when it has no title.
- `<span>`: the time from sending to the event's start, rounded: "N seconds" under a minute,
  then "N minutes", "N hours[ M minutes]" from an hour, "N days[ M hours]" from a day (and
  "1 second", "1 minute", ... in the singular).
- `<time>`: the start in `reminders.timezone` (default `time.naive_timezone`) as `HH:MM`, or
  `YYYY-MM-DD HH:MM` when it is another day there than the sending; `<zone>` is that zone's
  abbreviation at the start (`UTC`, `CET`, `CEST`, ...).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from eventd.store.base import Change
from eventd.times import US

MINUTE, HOUR, DAY = 60, 60, 24  # seconds a minute, minutes an hour, hours a day


def describe(change: Change, zone: tzinfo | None) -> str:
    """Return the `message` text of a `reminder` change, with the time in `zone` (None: the
    machine's local zone)."""
    reminder, event = change.reminder, change.event
    assert reminder is not None and event is not None, "a reminder change carries both"
    name = event.title or event.type
    sent_at = reminder.due if reminder.sent_at is None else reminder.sent_at
    span = _span(round((reminder.ts - sent_at) / US))
    return f"Event '{name}' starts in {span}, at {_clock_time(reminder.ts, sent_at, zone)}"


def _span(seconds: int) -> str:
    """Return `seconds` (> 0) in words, rounded to the nearest minute from one minute on."""
    if seconds < MINUTE:
        return _count(max(seconds, 1), "second")
    minutes = round(seconds / MINUTE)
    if minutes < HOUR:
        return _count(minutes, "minute")
    hours, minutes = divmod(minutes, HOUR)
    if hours < DAY:
        return _count(hours, "hour") + (f" {_count(minutes, 'minute')}" if minutes else "")
    days, hours = divmod(round(hours + minutes / HOUR), DAY)
    return _count(days, "day") + (f" {_count(hours, 'hour')}" if hours else "")


def _count(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def _clock_time(ts: int, sent_at: int, zone: tzinfo | None) -> str:
    """Return the time of `ts` in `zone`, with its date if that is not the day of `sent_at`."""
    start = _local(ts, zone)
    form = "%H:%M" if start.date() == _local(sent_at, zone).date() else "%Y-%m-%d %H:%M"
    return f"{start.strftime(form)} {start.tzname()}"


def _local(us: int, zone: tzinfo | None) -> datetime:
    # astimezone(None) gives the machine's local zone, with its abbreviation.
    return datetime.fromtimestamp(us / US, UTC).astimezone(zone)
