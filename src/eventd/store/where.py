"""Field-value search, shared by every engine: `Query.where` clauses and indexed fields.

A clause `(path, value)` selects the events whose value at `path` equals `value` by JSON
equality (`fields.canonical`); an event without the path never matches. Clauses are ANDed.

An indexed field (`timelines.indexed_fields`) is indexed by value: every event that has the
field is filed under a token of `(path, value)` (`token`), a fixed-length name that is safe
as a Redis key or a MongoDB index entry whatever the value holds. A long or unusual value is
held as a 128-bit digest. A search does not trust its index alone: every event read from it is
checked against every clause, the indexed one too (`Matcher`), so an entry left stale (by a
build racing a write, or a digest shared by two values) never brings a wrong event. A search
with a clause on an indexed field reads that field's index (or, on memory and Redis, the
type or key index when that one is smaller); a search without one reads the narrowest index
of its other filters (type and key, type, key, or every event).
Any clause and filter that index does not answer is checked on each event read (`Matcher`),
batch after batch (`filtered_page`), until the page is full or the index is exhausted.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from typing import Any, NamedTuple

import msgspec

from eventd.fields import MISSING, FieldPath, canonical, parse_path
from eventd.model import Event
from eventd.store.base import Order, Page, Position, Query

TOKEN_BYTES = 16
FIELD_BYTES = 8
MAX_PLAIN_VALUE = 64  # characters of a value's JSON text that a token holds as they are
BATCH = 256  # events a filtered scan reads at once, at least
COUNT_BATCH = 1024  # events a filtered count reads at once
MAX_VALUE_DEPTH = 64  # of a searched-for value: deeper ones are refused


@functools.lru_cache(maxsize=1024)  # once per path, not once per event filed
def field_id(path: FieldPath) -> str:
    """Return a short, fixed-length name of an indexed path (for its index keys)."""
    return hashlib.blake2b(path.key.encode(), digest_size=FIELD_BYTES).hexdigest()


def token(path: FieldPath, value: Any) -> str:
    """Return the index token of `(path, value)`, `<field_id>:<value>`: equal JSON values
    give equal tokens, and the tokens of one path share its prefix.

    `<value>` is the canonical JSON text when it is short printable ASCII (most states, such
    as `"wait"`, need no digest), else `#` and a digest of it (JSON text never begins with `#`).
    """
    text = canonical(value)
    if len(text) <= MAX_PLAIN_VALUE and text.isascii() and text.isprintable():
        return f"{field_id(path)}:{text}"
    digest = hashlib.blake2b(f"{path.key}\0{text}".encode(), digest_size=TOKEN_BYTES)
    return f"{field_id(path)}:#{digest.hexdigest()}"


def check_value(value: Any, depth: int = 0) -> None:
    """Raise ValueError for a value no event can hold (a non-finite number), or one nested
    deeper than `MAX_VALUE_DEPTH` (which `canonical` could not read)."""
    if depth > MAX_VALUE_DEPTH:
        raise ValueError(f"a value nested more than {MAX_VALUE_DEPTH} levels deep")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("a number out of range")
    if isinstance(value, dict):
        for item in value.values():
            check_value(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            check_value(item, depth + 1)


def data_path(text: str) -> FieldPath:
    """Read a path into `data` (`value`, `type` and `title` too name keys of `data`)."""
    path = parse_path(text)
    return path if path.top is None else FieldPath(text, None, (text,))


def data_clause(path: str, value: Any) -> tuple[FieldPath, Any]:
    """Return the clause that `data.<path>` equals `value` (a decoded JSON value); raise
    ValueError saying what is wrong with either (`PathError` for the path)."""
    found = data_path(path)
    check_value(value)
    return found, value


def parse_paths(texts: Iterable[str]) -> tuple[FieldPath, ...]:
    """Read indexed field paths, each path once (by its canonical key)."""
    paths = {path.key: path for path in map(parse_path, texts)}
    return tuple(paths.values())


class Matcher:
    """Tells whether an event passes a query's filters (type, key and where clauses)."""

    def __init__(self, query: Query) -> None:
        self.type = query.type
        self.key = query.key
        self.clauses = [(path, canonical(value)) for path, value in query.where]
        self.reads_data = any(path.top is None for path, _ in self.clauses)

    @property
    def trivial(self) -> bool:
        """Tell whether every event passes (the index read answers the query exactly)."""
        return self.type is None and self.key is None and not self.clauses

    def __call__(self, event: Event) -> bool:
        if self.type is not None and event.type != self.type:
            return False
        if self.key is not None and event.key != self.key:
            return False
        data: Any = MISSING
        if self.reads_data:
            try:
                data = msgspec.json.decode(event.data)
            except msgspec.DecodeError:  # stored before numbers were checked (see model.py)
                return False
        for path, wanted in self.clauses:
            found = path.read(event) if path.top is not None else path.read_data(data)
            if found is MISSING or canonical(found) != wanted:
                return False
        return True


def _needle(path: FieldPath) -> bytes | None:
    """Return bytes that `data` holds wherever `path` is in it, when written without escapes:
    a segment that only a key can match (a list index is digits), as JSON writes it."""
    keys = [part for part in path.parts if not part.isdigit()]
    needle = msgspec.json.encode(max(keys, key=len)) if keys else None
    return None if needle is None or b"\\" in needle else needle  # no guess at escapes


class FieldIndex:
    """The indexed paths of an engine, and the tokens an event is filed under."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.paths = parse_paths(texts)
        self._keys = {path.key: path for path in self.paths}
        self._needles = {path: _needle(path) for path in self.paths if path.top is None}

    def tokens(self, event: Event) -> list[str]:
        """Return the tokens of every indexed path the event has."""
        if not self.paths:
            return []
        # Most writes are filed under no data path, or under few: decoding `data` only when
        # a path may be in it keeps the cost of indexes off imports of other events.
        raw = bytes(event.data)
        escaped = b"\\" in raw
        wanted = [p for p, n in self._needles.items() if escaped or n is None or n in raw]
        data: Any = MISSING
        if wanted:
            try:
                data = msgspec.json.decode(raw)
            except msgspec.DecodeError:  # stored before numbers were checked (see model.py)
                data = MISSING
        found = []
        for path in self.paths:
            if path.top is not None:
                value = path.read(event)
            else:
                value = path.read_data(data) if path in wanted else MISSING
            if value is not MISSING:
                found.append(token(path, value))
        return found

    def clause(self, query: Query) -> tuple[FieldPath, Any] | None:
        """Return the first clause of `query` on an indexed path, or None."""
        for path, value in query.where:
            if path.key in self._keys:
                return path, value
        return None


class Batch(NamedTuple):
    """What one read of an index found: the events still stored, how many entries it read
    (an entry whose event is gone reads as no event), and the position of the last one."""

    events: list[Event]
    read: int
    last: Position | None


class FieldSet:
    """A store's indexed fields as an engine last loaded them: each path's state
    (`building`, `ready` or `dropping`) and the version of the set. Writes file events under
    the fields `building` or `ready` (`filed`); searches read the `ready` ones' indexes."""

    def __init__(self, version: int = -1, states: dict[str, str] | None = None) -> None:
        self.version = version  # -1: never loaded, which no store holds
        self.states = dict(states or {})
        self.filed = FieldIndex(k for k, s in self.states.items() if s in ("building", "ready"))
        self.ready = FieldIndex(k for k, s in self.states.items() if s == "ready")

    def differs(self, configured: FieldIndex) -> bool:
        """Tell whether the store files other fields than `configured` lists."""
        return {p.key for p in self.filed.paths} != {p.key for p in configured.paths}

    def describe(self, configured: FieldIndex) -> str:
        """Say how the store's fields differ from the configured ones, for a warning."""
        store = ", ".join(sorted(p.key for p in self.filed.paths))
        listed = ", ".join(sorted(p.key for p in configured.paths))
        return (
            f"the store indexes the fields [{store}], timelines.indexed_fields lists [{listed}]:"
            " writes are filed under the store's fields, searches use those ready there"
        )


Fetch = Callable[[Query, int], Awaitable[Batch]]


async def filtered_page(fetch: Fetch, query: Query, matches: Matcher) -> Page:
    """Return a page of `query` from `fetch` (events of an index in query order, after a
    position), keeping those that `matches`, reading batch after batch until it is full."""
    wanted = query.limit + 1
    batch = max(BATCH, wanted)
    found: list[Event] = []
    after = query.after
    while len(found) < wanted:
        events, read, last = await fetch(_after(query, after), batch)
        found += [event for event in events if matches(event)]
        if read < batch or last is None:
            break
        after = last
    return Page(found[: query.limit], more=len(found) > query.limit)


async def filtered_count(fetch: Fetch, query: Query, matches: Matcher) -> int:
    """Count the events from `fetch` that `matches`, reading the whole range in batches."""
    count = 0
    after = None
    query = _after(query, None, order="asc")
    while True:
        events, read, last = await fetch(_after(query, after), COUNT_BATCH)
        count += sum(1 for event in events if matches(event))
        if read < COUNT_BATCH or last is None:
            return count
        after = last


def _after(query: Query, after: Position | None, order: Order | None = None) -> Query:
    return replace(query, after=after, order=order or query.order)
