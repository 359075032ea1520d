"""The retention job: delete events older than `retention.max_age` (per type if configured)."""

from __future__ import annotations

import logging

from eventd.store.base import Query
from eventd.store.commands import Delete
from eventd.store.worker import StoreWorker
from eventd.times import US, Clock

log = logging.getLogger(__name__)


async def apply_retention(worker: StoreWorker, rules: dict[str | None, int], clock: Clock) -> int:
    """Delete what the rules say is too old; return how many events went."""
    now = clock()
    deleted = 0
    for type, age in rules.items():
        if type is not None:
            deleted += await _delete_older(worker, now - age * US, type, skip=set())
    if None in rules:
        own = {type for type in rules if type is not None}
        deleted += await _delete_older(worker, now - rules[None] * US, None, skip=own)
    if deleted:
        log.info("retention: deleted %d events", deleted)
    return deleted


async def _delete_older(worker: StoreWorker, before: int, type: str | None, skip: set[str]) -> int:
    deleted = 0
    async for event in worker.scan(Query(end=before - 1, type=type)):
        if event.type not in skip and await worker.call(Delete(event.id)) is not None:
            deleted += 1
    return deleted
