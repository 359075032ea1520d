"""The store worker: an actor that owns an engine behind a bounded queue of commands."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from eventd.errors import Unavailable
from eventd.model import Event
from eventd.store.base import Engine, IdConflict, Pings, Query, ReportsRoundTrips, StorageError
from eventd.store.commands import Command, PutMany, RunQuery, Stop
from eventd.store.failures import FailureLog

log = logging.getLogger(__name__)
T = TypeVar("T")
# A put to an engine that does not report its round trips may take one timeout per this many
# events (its driver splits a large write into batches, each bounded by the backend).
PUT_ROUND_EVENTS = 1000
SCAN_PAGE = 1000  # events read per command by `scan`


class NoAnswer(StorageError):
    """The store did not answer a round trip within the engine's timeout."""


class StoreWorker:
    """Serialises all access to one engine and batches consecutive writes.

    `call()` waits up to `enqueue_timeout` for room in the queue and then raises
    `Unavailable`, which the HTTP layer answers with 503 and Retry-After; a caller with room
    waits for its turn however long the calls ahead of it take while the store answers.

    When the engine has a `timeout`, each engine call is bounded by it from the moment the
    worker starts the call, per round trip: every answer the engine reports restarts the
    clock, so a large import or a clear goes on as long as the store keeps answering. A call
    that gets no answer in time fails with `NoAnswer` (a `StorageError`), and so does every
    command waiting behind it at that moment, unapplied: the store is not answering, and
    trying them one after another would hold each caller for another timeout.
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
        self._in_flight: list[Command[Any]] = []  # taken from the queue, not yet started
        self._current: list[Command[Any]] = []  # the commands of the engine call running
        self._accepting = False
        self._stopped = False
        self.failures = FailureLog(log, "store request")
        # For metrics: engine calls that failed (timeouts apart), that got no answer in time,
        # and how many commands each turn of the loop took from the queue (size -> turns).
        self.engine_errors = 0
        self.engine_timeouts = 0
        self.batch_sizes: Counter[int] = Counter()

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
        """Wait for the reply; count the outcome for the log.

        No deadline here: the worker answers every command, each engine call being bounded.
        """
        try:
            # A cancelled caller cancels the reply: a read it queued is then skipped, a write
            # is still applied (see `_skipped`).
            result = await command.reply
        except StorageError as exc:
            self.failures.failed(str(exc))
            raise
        except IdConflict:
            self.failures.succeeded()  # the store answered
            raise
        self.failures.succeeded()
        return result

    async def scan(self, query: Query, page_size: int = SCAN_PAGE) -> AsyncIterator[Event]:
        """Yield every event `query` selects, in its order, reading `page_size` at a time.

        Each page is a command of its own, so writes queued meanwhile are not held behind a
        long scan; the keyset position carries the scan past events deleted under it.
        """
        query = dataclasses.replace(query, limit=page_size)
        while True:
            page = await self.call(RunQuery(query))
            for event in page.events:
                yield event
            if not page.more:
                return
            query = dataclasses.replace(query, after=page.events[-1].position)

    async def ping(self) -> None:
        """Check that the engine answers within its timeout, beside the queue; raise
        `StorageError` if not."""
        engine = self.engine
        if not isinstance(engine, Pings):
            return  # a store in the process always answers
        timeout = engine.timeout
        try:
            async with asyncio.timeout(timeout):
                await engine.ping()
        except TimeoutError:
            self.engine_timeouts += 1
            raise self._no_answer(timeout) from None
        except StorageError as exc:
            self._count_failure(exc)
            raise

    def _count_failure(self, exc: BaseException) -> None:
        """Count a failed engine call for metrics: a timeout, or another storage error."""
        if isinstance(exc, NoAnswer):
            self.engine_timeouts += 1
        elif isinstance(exc, StorageError):
            self.engine_errors += 1

    def _no_answer(self, bound: float | None) -> NoAnswer:
        return NoAnswer(f"{self.engine.name}: no answer within {bound:g} s")

    @asynccontextmanager
    async def _bounded(self, events: int = 0) -> AsyncIterator[None]:
        """Bound an engine call by the engine's timeout, restarted by each round trip; a put
        of `events` to an engine that does not report round trips gets one per thousand."""
        timeout = self.engine.timeout
        if timeout is None:  # an engine in the process (memory): no timer on its hot path
            yield
            return
        loop = asyncio.get_running_loop()
        first = timeout
        if not isinstance(self.engine, ReportsRoundTrips):
            first *= 1 + events // PUT_ROUND_EVENTS
        try:
            async with asyncio.timeout(first) as bound:

                def answered() -> None:
                    # An answer can still come in while the call is being cut: too late.
                    # Never shortens a put's allowance by size (see `first`).
                    if not bound.expired():
                        bound.reschedule(max(bound.when() or 0.0, loop.time() + timeout))

                self.engine.on_round_trip = answered
                try:
                    yield
                except StorageError as exc:
                    # The backend's own timeout (or a cancellation its client swallowed) may
                    # end the call first: a whole timeout without an answer is no answer.
                    if bound.expired() or loop.time() >= (bound.when() or 0.0):
                        raise self._no_answer(timeout) from exc
                    raise
                finally:
                    self.engine.on_round_trip = None
        except TimeoutError:
            raise self._no_answer(timeout) from None

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
        pending = self._current + self._in_flight
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
            self.batch_sizes[len(batch)] += 1
            if await self._apply(batch):
                return

    async def _apply(self, batch: list[Command[Any]]) -> bool:
        """Apply `batch` in order, folding runs of puts into one engine call; return whether
        it ended with `Stop`. A store that does not answer empties `batch` (`_fail_waiting`).
        """
        self._in_flight = batch
        while batch:
            if isinstance(batch[0], Stop):
                # Anything after Stop came in while stopping; `stop()` fails it.
                del batch[0]
                return True
            size = 1
            while size < len(batch) and isinstance(batch[0], PutMany):
                if not isinstance(batch[size], PutMany):
                    break
                size += 1
            self._current, batch[:size] = batch[:size], []
            if size > 1:
                await self._put_group(self._current)
            else:
                await self._execute(self._current[0])
            self._current = []
        return False

    async def _put_group(self, group: list[Command[Any]]) -> None:
        puts = [cmd for cmd in group if isinstance(cmd, PutMany) and not _skipped(cmd)]
        if not puts:
            return
        events = [event for cmd in puts for event in cmd.events]
        try:
            async with self._bounded(len(events)):
                results = await self.engine.put_many(events)
        except IdConflict:
            # Nothing was written; a conflict fails only its own command: apply them one by
            # one, each checked again, and none once the store stops answering.
            for cmd in puts:
                if not await self._execute(cmd):
                    return
            return
        except NoAnswer as exc:
            self._count_failure(exc)
            self._fail_waiting(exc)
            return
        except Exception as exc:
            self._count_failure(exc)
            for cmd in puts:
                _settle(cmd, exc=exc)
            return
        start = 0
        for cmd in puts:
            _settle(cmd, result=results[start : start + len(cmd.events)])
            start += len(cmd.events)

    async def _execute(self, command: Command[Any]) -> bool:
        """Apply one command unless it is to be skipped; return False if the store did not
        answer (the commands waiting are failed then too)."""
        if _skipped(command):
            return True
        try:
            async with self._bounded(command.size):
                result = await command.run(self.engine)
        except NoAnswer as exc:
            self._count_failure(exc)
            _settle(command, exc=exc)
            self._fail_waiting(exc)
            return False
        except Exception as exc:
            self._count_failure(exc)
            _settle(command, exc=exc)
        else:
            _settle(command, result=result)
        return True

    def _fail_waiting(self, cause: NoAnswer) -> None:
        """Fail, unapplied, the running call's commands and every command waiting behind it.

        Commands whose callers have gone are dropped too: nothing queued before the store
        stopped answering is applied afterwards. A `Stop` stays, to end the loop.
        """
        for cmd in self._current:
            _settle(cmd, exc=cause)
        waiting = self._in_flight[:]
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        self._in_flight[:] = [cmd for cmd in waiting if isinstance(cmd, Stop)]
        self._current = []
        behind = StorageError(f"{cause}, to a call ahead of this one")
        for cmd in waiting:
            _settle(cmd, exc=behind)


def _skipped(command: Command[Any]) -> bool:
    """Return whether to leave a command unapplied: its caller was answered already (a 503
    write is never applied afterwards), or has gone and it only reads.

    A write whose caller has gone (a closed connection cancels the request) is still
    applied: the caller cannot tell either way, as when it goes just after the write.
    """
    reply = command.reply
    return reply.done() and (not reply.cancelled() or command.reads)


def _settle(command: Command[Any], *, result: Any = None, exc: BaseException | None = None) -> None:
    """Resolve a command's future unless its caller has gone (cancelled it)."""
    if command.reply.done():
        return
    if exc is not None:
        command.reply.set_exception(exc)
    else:
        command.reply.set_result(result)
