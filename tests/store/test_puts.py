"""The optimistic put loop that engines shared with other writers use."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
import pytest

from eventd.model import Event
from eventd.store.base import IdConflict, StorageError
from eventd.store.puts import ATTEMPTS, insert_new
from tests.store.test_conformance import ev


class Store:
    """A store whose other writer stores `raced` ids just before each of our inserts."""

    def __init__(self, raced: list[list[Event]]) -> None:
        self.events: dict[str, Event] = {}
        self.raced = raced
        self.tries = 0

    async def insert(self, events: list[Event]) -> tuple[list[str], dict[str, Event]]:
        self.tries += 1
        for event in self.raced.pop(0) if self.raced else []:
            self.events[event.id] = event
        if existing := [event.id for event in events if event.id in self.events]:
            return existing, {}
        inserted = {e.id: msgspec.structs.replace(e, seq=n) for n, e in enumerate(events, 1)}
        self.events |= inserted
        return [], inserted

    async def read(self, ids: list[str]) -> Mapping[str, Event]:
        return {id: self.events[id] for id in ids if id in self.events}


async def test_ids_stored_meanwhile_with_the_same_content_are_not_created() -> None:
    store = Store(raced=[[ev("b")]])
    results = await insert_new([ev("a"), ev("b")], store.insert, store.read, "test")
    assert [(r.event.id, r.created) for r in results] == [("a", True), ("b", False)]
    assert store.tries == 2


async def test_an_id_stored_meanwhile_with_other_content_is_a_conflict() -> None:
    store = Store(raced=[[ev("b", value=2.0)]])
    with pytest.raises(IdConflict) as caught:
        await insert_new([ev("a"), ev("b", value=1.0)], store.insert, store.read, "test")
    assert (caught.value.index, caught.value.id) == (1, "b")
    assert "a" not in store.events


async def test_a_store_that_keeps_changing_is_given_up_on() -> None:
    store = Store(raced=[[ev(f"r{n}")] for n in range(ATTEMPTS)])
    batch = [ev(f"r{n}") for n in range(ATTEMPTS)] + [ev("last")]

    async def forgetful_read(ids: list[str]) -> Mapping[str, Event]:
        return {}  # every id found is gone again when read

    with pytest.raises(StorageError, match=f"test: ids kept changing; gave up after {ATTEMPTS}"):
        await insert_new(batch, store.insert, forgetful_read, "test")
