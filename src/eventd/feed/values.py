"""The values of changed events at the field paths subscribers filter on, read once per change.

A change offered to many subscriptions with data filters (`filter.data` of `events`) has its
event's data decoded once, however many subscriptions ask, and each path's value made
canonical once; replays that read the same changes again later ask the same questions, so the
answers for the most recent changes are kept. Only the answers are kept, not the changes
(whose data may be large), under the change's identity (`_identity`): a position can come
back with other content (a store that lost its history), so that holds more than the position.
"""

from __future__ import annotations

from typing import Any

import msgspec

from eventd.fields import MISSING, FieldPath, canonical
from eventd.store.base import Change

_NOT_READ: Any = object()
Identity = tuple[int, str, str | None, int, int]


def _identity(change: Change) -> Identity:
    """Return what tells one change from another at the same position."""
    event = change.event
    if event is None:
        return change.position, change.op, None, 0, 0
    return change.position, change.op, event.id, event.seq, event.updated


class ChangeValues:
    """The canonical values of the recent changes' events, by path key (None: absent)."""

    def __init__(self, count: int = 4096) -> None:
        self._values: dict[Identity, dict[str, str | None]] = {}  # oldest first
        self._count = count
        self._data: tuple[Identity | None, Any] = (None, _NOT_READ)  # of the change last read
        self.decoded = 0  # how many times an event's data was decoded: a test's window

    def value(self, change: Change, path: FieldPath) -> str | None:
        """Return the canonical JSON text of the value at `path` in the change's event, or
        None when the event has no such value."""
        identity = _identity(change)
        values = self._values.get(identity)
        if values is None:
            values = self._values[identity] = {}
            while len(self._values) > self._count:
                del self._values[next(iter(self._values))]
        if path.key not in values:
            values[path.key] = self._read(change, identity, path)
        return values[path.key]

    def _read(self, change: Change, identity: Identity, path: FieldPath) -> str | None:
        event = change.event
        if event is None:
            return None
        if path.top is not None:
            found = path.read(event)
        else:
            if self._data[0] != identity:  # the data of the change asked about last
                self._data = (identity, self._decode(event.data))
            data = self._data[1]
            found = MISSING if data is _NOT_READ else path.read_data(data)
        return None if found is MISSING else canonical(found)

    def _decode(self, raw: msgspec.Raw) -> Any:
        self.decoded += 1
        try:
            return msgspec.json.decode(raw)
        except msgspec.DecodeError:  # stored before numbers were checked (see model.py)
            return _NOT_READ
