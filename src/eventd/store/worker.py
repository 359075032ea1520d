"""The store worker: an actor that owns an engine behind a bounded queue of commands."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from eventd.errors import Unavailable
from eventd.model import Event
from eventd.store.base import Engine, IdConflict, Page, PutResult, Query, StorageError
from eventd.store.failures import FailureLog

log = logging.getLogger(__name__)
T = TypeVar("T")
# A put may take one `engine.timeout` per this many events: a large import is many round
# trips that each answer in time, not a hung call.
ROUND_EVENTS = 1000
# Clearing walks every key of the store, a round trip per thousand keys.
CLEAR_ROUNDS = 10


def _future() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


@dataclass(slots=True, frozen=True)
class Command(Generic[T]):
    """A request to the worker; the worker answers through `reply`."""

    reply: asyncio.Future[T] = field(default_factory=_future, init=False, repr=False)


@dataclass(slots=True, frozen=True)
class PutMany(Command[list[PutResult]]):
    events: Sequence[Event]


@dataclass(slots=True, frozen=True)
class Get(Command[Event | None]):
    id: str


@dataclass(slots=True, frozen=True)
class Update(Command[Event | None]):
    id: str
    changes: Mapping[str, Any]
    updated: int


@dataclass(slots=True, frozen=True)
class Delete(Command[Event | None]):
    id: str


@dataclass(slots=True, frozen=True)
class RunQuery(Command[Page]):
    query: Query


@dataclass(slots=True, frozen=True)
class Count(Command[int]):
    query: Query


@dataclass(slots=True, frozen=True)
class Clear(Command[int]):
    pass


@dataclass(slots=True, frozen=True)
class CursorSecret(Command[bytes]):
    pass


@dataclass(slots=True, frozen=True)
class Stop(Command[None]):
    """Ends the worker loop once everything queued before it is done."""


class StoreWorker:
    """Serialises all access to one engine and batches consecutive writes.

    `call()` waits up to `enqueue_timeout` for room in the queue and then raises
    `Unavailable`, which the HTTP layer answers with 503 and Retry-After. When the engine has
    a `timeout`, each engine call is bounded by it, and so is each caller's wait for its
    reply (queued behind a hung call included): both raise `StorageError`.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        queue_size: int = 10_000,
        batch_limit: int = 256,
        enqueue_timeout: float = 2.0,
        retry_after: float = 1.0,
    ) -> None:
        self.engine = engine
        self._queue: asyncio.Queue[Command[Any]] = asyncio.Queue(queue_size)
        self._batch_limit = batch_limit
        self._enqueue_timeout = enqueue_timeout
        self._retry_after = retry_after
        self._task: asyncio.Task[None] | None = None
        self._in_flight: list[Command[Any]] = []
        self._accepting = False
        self._stopped = False
        self.failures = FailureLog(log, "store request")

    @property
    def written_position(self) -> int:
        """Return the feed position of the last change this worker's engine applied."""
        return self.engine.written_position

    @property
    def backlog(self) -> int:
        """Return how many commands wait in the queue."""
        return self._queue.qsize()

    async def start(self) -> None:
        """Open the engine and start the loop."""
        await self.engine.open()
        self._task = asyncio.create_task(self._run(), name=f"store-worker-{self.engine.name}")
        self._accepting = True

    async def call(self, command: Command[T]) -> T:
        """Queue `command` and return its result (or raise its error)."""
        if not self._accepting:
            raise Unavailable("the store is shutting down", retry_after=self._retry_after)
        try:
            self._queue.put_nowait(command)
        except asyncio.QueueFull:
            try:
                async with asyncio.timeout(self._enqueue_timeout):
                    await self._queue.put(command)
            except TimeoutError:
                raise Unavailable(
                    "the store is overloaded: its queue stayed full", retry_after=self._retry_after
                ) from None
        if self._stopped:  # queued after the worker drained its queue for good
            _settle(command, exc=Unavailable("the store stopped", retry_after=self._retry_after))
        return await self._reply(command)

    async def _reply(self, command: Command[T]) -> T:
        """Wait for the reply within the command's bound; count the outcome for the log."""
        reply, bound = command.reply, self._bound([command])
        if bound is None:  # an engine in the process (memory): no timer on its hot path
            return await reply
        try:
            await asyncio.wait([reply], timeout=bound)
        except asyncio.CancelledError:
            reply.cancel()  # the caller has gone; a command it queued is still applied
            raise
        if not reply.done():
            # Answered now, the command is skipped if the worker has not started it (a write
            # already sent may still be applied).
            _settle(command, exc=self._no_answer(bound))
        try:
            result = reply.result()
        except StorageError as exc:
            self.failures.failed(str(exc))
            raise
        except IdConflict:
            self.failures.succeeded()  # the store answered
            raise
        self.failures.succeeded()
        return result

    async def ping(self) -> None:
        """Check that the engine answers within its timeout, beside the queue; raise
        `StorageError` if not."""
        timeout = self.engine.timeout
        try:
            async with asyncio.timeout(timeout):
                await self.engine.ping()
        except TimeoutError:
            raise self._no_answer(timeout) from None

    def _bound(self, commands: Sequence[Command[Any]]) -> float | None:
        """Return the seconds the engine may take for `commands`, or None for no bound."""
        timeout = self.engine.timeout
        if timeout is None:
            return None
        if any(isinstance(cmd, Clear) for cmd in commands):
            return timeout * CLEAR_ROUNDS
        events = sum(len(cmd.events) for cmd in commands if isinstance(cmd, PutMany))
        return timeout * (1 + events // ROUND_EVENTS)

    def _no_answer(self, bound: float | None) -> StorageError:
        return StorageError(f"{self.engine.name}: no answer within {bound:g} s")

    @asynccontextmanager
    async def _bounded(self, commands: Sequence[Command[Any]]) -> AsyncIterator[None]:
        """Bound an engine call for `commands`: a hung call fails them, not the queue."""
        bound = self._bound(commands)
        try:
            async with asyncio.timeout(bound):
                yield
        except TimeoutError:
            raise self._no_answer(bound) from None

    async def stop(self, drain_timeout: float) -> None:
        """Refuse new commands, finish queued ones within `drain_timeout`, close the engine."""
        self._accepting = False
        task, self._task = self._task, None
        if task is not None:
            try:
                async with asyncio.timeout(drain_timeout):
                    await self._queue.put(Stop())
                    await asyncio.shield(task)
            except TimeoutError:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._stopped = True
        self._fail_remaining()
        try:
            async with asyncio.timeout(drain_timeout or 1.0):
                await self.engine.close()
        except TimeoutError:
            log.warning("store worker: the %s engine did not close in time", self.engine.name)

    def _fail_remaining(self) -> None:
        dropped = 0
        pending = self._in_flight
        while not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for command in pending:
            if not command.reply.done() and not isinstance(command, Stop):
                dropped += 1
                command.reply.set_exception(
                    Unavailable("the store stopped", retry_after=self._retry_after)
                )
        if dropped:
            log.warning("store worker stopped with %d commands not applied", dropped)

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_limit and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._in_flight = batch
            stopped = await self._apply(batch)
            self._in_flight = []
            if stopped:
                return

    async def _apply(self, batch: list[Command[Any]]) -> bool:
        """Apply `batch` in order, folding runs of puts into one engine call."""
        i = 0
        while i < len(batch):
            if _answered(batch[i]):  # its caller stopped waiting for the store
                i += 1
                continue
            if isinstance(batch[i], Stop):
                # Anything after Stop came in while stopping; `stop()` fails it.
                self._in_flight = batch[i + 1 :]
                return True
            j = i + 1
            while (
                j < len(batch) and isinstance(batch[i], PutMany) and isinstance(batch[j], PutMany)
            ):
                j += 1
            if j - i > 1:
                await self._put_group(batch[i:j])
            else:
                await self._execute(batch[i])
            i = j
        return False

    async def _put_group(self, group: list[Command[Any]]) -> None:
        puts = [cmd for cmd in group if isinstance(cmd, PutMany) and not _answered(cmd)]
        if not puts:
            return
        events = [event for cmd in puts for event in cmd.events]
        try:
            async with self._bounded(puts):
                results = await self.engine.put_many(events)
        except IdConflict:
            # A conflict fails only its own command: apply them one by one.
            for cmd in puts:
                await self._execute(cmd)
            return
        except Exception as exc:
            for cmd in puts:
                _settle(cmd, exc=exc)
            return
        start = 0
        for cmd in puts:
            _settle(cmd, result=results[start : start + len(cmd.events)])
            start += len(cmd.events)

    async def _execute(self, command: Command[Any]) -> None:
        try:
            async with self._bounded([command]):
                result = await self._perform(command)
        except Exception as exc:
            _settle(command, exc=exc)
        else:
            _settle(command, result=result)

    async def _perform(self, command: Command[Any]) -> Any:
        engine = self.engine
        match command:
            case PutMany(events=events):
                return await engine.put_many(events)
            case Get(id=id):
                return await engine.get(id)
            case Update(id=id, changes=changes, updated=updated):
                return await engine.update(id, changes, updated)
            case Delete(id=id):
                return await engine.delete(id)
            case RunQuery(query=query):
                return await engine.query(query)
            case Count(query=query):
                return await engine.count(query)
            case Clear():
                return await engine.clear()
            case CursorSecret():
                return await engine.cursor_secret()
        raise TypeError(f"unknown store command {command!r}")


def _answered(command: Command[Any]) -> bool:
    """Return whether a command was answered before the worker applied it."""
    return command.reply.done() and not command.reply.cancelled()


def _settle(command: Command[Any], *, result: Any = None, exc: BaseException | None = None) -> None:
    """Resolve a command's future unless its caller has gone (cancelled it)."""
    if command.reply.done():
        return
    if exc is not None:
        command.reply.set_exception(exc)
    else:
        command.reply.set_result(result)
