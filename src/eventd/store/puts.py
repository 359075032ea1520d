"""What every engine's put shares: checking a batch's ids, pairing results, retrying inserts."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

import msgspec

from eventd.model import Event
from eventd.pacing import Work, paced, slices
from eventd.store.base import IdConflict, PutResult, StorageError

ATTEMPTS = 16  # tries of an optimistic write before giving up on a store that keeps changing
SLICE = 512  # events checked or paired per step (see `pacing`)

# Inserts all of a put's pending events or none: returns ids to read again (some were found
# stored already, and nothing was written), or else no ids and the inserted events by id.
Insert = Callable[[list[Event]], Awaitable[tuple[list[str], dict[str, Event]]]]
# Reads the stored events of some ids, leaving out those that are no longer stored.
ReadStored = Callable[[list[str]], Awaitable[Mapping[str, Event]]]


def check_batch(events: Sequence[Event]) -> Work[dict[str, Event]]:
    """Return the first event of each id in a put; raise `IdConflict` if a repeat differs."""
    first: dict[str, Event] = {}
    for start, part in enumerate(slices(events, SLICE)):
        for index, event in enumerate(part, start * SLICE):
            earlier = first.setdefault(event.id, event)
            if earlier is not event and not earlier.same_content(event):
                raise IdConflict(index, event.id)
        yield
    return first


def check_stored(events: Sequence[Event], stored: Mapping[str, Event]) -> Work[None]:
    """Raise `IdConflict` if an event's id is stored with different content."""
    if not stored:
        return
    for start, part in enumerate(slices(events, SLICE)):
        for index, event in enumerate(part, start * SLICE):
            known = stored.get(event.id)
            if known is not None and not known.same_content(event):
                raise IdConflict(index, event.id)
        yield


def put_results(
    events: Sequence[Event], inserted: Mapping[str, Event], stored: Mapping[str, Event]
) -> Work[list[PutResult]]:
    """Pair each event of a put with the stored one; the first of an inserted id was created."""
    results = []
    done: set[str] = set()
    for part in slices(events, SLICE):
        for event in part:
            if event.id in inserted and event.id not in done:
                done.add(event.id)
                results.append(PutResult(inserted[event.id], created=True))
            else:
                results.append(PutResult(inserted.get(event.id) or stored[event.id], created=False))
        yield
    return results


async def insert_new(
    events: Sequence[Event], insert: Insert, read_stored: ReadStored, backend: str
) -> list[PutResult]:
    """Store the events of a put whose ids are new; compare the others with what is stored.

    For a store shared with other writers: each try inserts all the pending events or none;
    the ids found stored are read and compared (`IdConflict` if one differs), and the others
    are tried again.
    """
    fresh = await paced(check_batch(events))
    stored: dict[str, Event] = {}
    for _ in range(ATTEMPTS):
        pending = [event for id, event in fresh.items() if id not in stored]
        existing, inserted = await insert(pending) if pending else ([], {})
        if not existing:
            return await paced(put_results(events, inserted, stored))
        stored |= await read_stored(existing)
        await paced(check_stored(events, stored))
    raise StorageError(f"{backend}: ids kept changing; gave up after {ATTEMPTS} tries")


def numbered(
    chunks: list[list[Event]], first: int
) -> Work[tuple[list[list[Event]], dict[str, Event]]]:
    """Return the chunks' events with seqs from `first` on, and those events by id."""
    done: list[list[Event]] = []
    inserted: dict[str, Event] = {}
    seq = first
    for chunk in chunks:
        events: list[Event] = []
        for part in slices(chunk, SLICE):
            events += [msgspec.structs.replace(e, seq=s) for s, e in enumerate(part, seq)]
            seq += len(part)
            yield
        done.append(events)
        inserted.update((event.id, event) for event in events)
    return done, inserted
