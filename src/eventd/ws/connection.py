"""One socket's state: its bounded queue, its writer task, its subscriptions, and the
watchdog that closes it when its subscriber falls behind."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from eventd.access import EVERY_SCOPE, Gate, Grant
from eventd.counters import Counters
from eventd.store.base import Change
from eventd.ws import frames, protocol

if TYPE_CHECKING:
    from eventd.ws.channels import Channels, Stream

log = logging.getLogger(__name__)
# (message, position of the change it carries or 0, the subscription whose replay it belongs
# to or None for live messages and replies); see `Connection.writer`.
Entry = tuple[bytes, int, "Sink | None"]


class Connection:
    """The state of one socket: its queue, its writer task and its subscriptions."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        channels: Channels,
        queue_size: int,
        transport: asyncio.WriteTransport | None,
        counters: Counters | None = None,
    ) -> None:
        self.ws = ws
        self.channels = channels
        self.queue: asyncio.Queue[Entry] = asyncio.Queue(queue_size)
        self.queue_size = queue_size
        self.subscriptions: dict[str, Sink] = {}
        self.delivered = 0  # position of the last live change written to the socket
        self.slow = asyncio.Event()
        self.transport = transport
        self.sending = False  # the writer task is inside send_frame
        self.counters = counters if counters is not None else Counters()
        self.grant = Grant(None, EVERY_SCOPE)  # what the socket's token (or none) grants
        self.gate: Gate | None = None  # checks the token of an `auth` message
        self.authenticated = asyncio.Event()  # set by the first accepted `auth` message
        # (close code, reason) once the server ends the socket; it then closes as a slow one.
        self.ending: tuple[int, str] | None = None

    def end(self, code: int, reason: str) -> None:
        """Close the socket with `code`: stop sending, as for a slow subscriber."""
        self.ending = (code, reason)
        self.slow.set()

    def offer(self, message: bytes, position: int) -> bool:
        """Send a live message now if the socket keeps up, else queue it; on a full queue,
        mark the connection slow."""
        transport = self.transport
        if transport is not None and self._can_write_now(transport):
            frames.write_text(transport, message)
            self.delivered = max(self.delivered, position)
            self.counters.ws_messages_sent += 1
            return True
        try:
            self.queue.put_nowait((message, position, None))
        except asyncio.QueueFull:
            self.slow.set()
            return False
        return True

    def _can_write_now(self, transport: asyncio.WriteTransport) -> bool:
        # Writing in place spares a task switch per message and socket, the main cost of a
        # wide fan-out. Only when nothing is queued or being sent (order is kept) and the
        # kernel keeps up; otherwise the writer task sends, waiting for the socket to drain.
        return (
            not self.sending
            and self.queue.empty()
            and not self.slow.is_set()
            and not self.ws.closed
            and frames.keeps_up(transport)
        )

    async def reply(self, message: bytes) -> None:
        """Queue a reply behind what is already queued, waiting for room if need be."""
        await self.enqueue((message, 0, None))

    def try_enqueue(self, entry: Entry) -> bool:
        """Queue `entry` if there is room now and the connection is not closed as slow."""
        if self.slow.is_set():
            return False
        try:
            self.queue.put_nowait(entry)
        except asyncio.QueueFull:
            return False
        return True

    async def enqueue(self, entry: Entry) -> bool:
        """Queue `entry`, waiting for room; return False, without queueing, once the
        connection is closed as slow (its writer stopped: waiting would wait for ever)."""
        if self.slow.is_set():
            return False
        try:
            self.queue.put_nowait(entry)
            return True
        except asyncio.QueueFull:
            pass
        put = asyncio.create_task(self.queue.put(entry), name="ws-enqueue")
        slow = asyncio.create_task(self.slow.wait(), name="ws-enqueue-slow")
        try:
            await asyncio.wait({put, slow}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            slow.cancel()
            put.cancel()  # a no-op once the entry is in
            await asyncio.gather(put, slow, return_exceptions=True)
        return not put.cancelled()

    async def writer(self) -> None:
        """Send what is queued, in order (the connection's one writer task)."""
        while True:
            message, position, replaying = await self.queue.get()
            # send_frame hands the bytes to the transport before it waits for it to drain:
            # from there on the change counts as delivered.
            if replaying is None:
                self.delivered = max(self.delivered, position)
            elif message:
                replaying.replayed = position
            else:  # the end of a replay: the subscription has all up to `position`, is live
                replaying.replayed = None
                self.delivered = max(self.delivered, position)
                continue
            self.sending = True
            try:
                await self.ws.send_frame(message, WSMsgType.TEXT)
            finally:
                self.sending = False
            self.counters.ws_messages_sent += 1

    def resume_position(self) -> int:
        """Return a position up to which every subscription got all of its changes."""
        # Live messages are written in position order, so a live subscription has all of its
        # changes up to `delivered`; a replaying one only up to what its replay wrote.
        return min(
            (
                max(s.live_from, self.delivered) if s.replayed is None else s.replayed
                for s in self.subscriptions.values()
                if s.joined
            ),
            default=self.delivered,
        )

    def sink(self, id: str, channels: Collection[str]) -> Sink:
        """Return a new subscription `id` on `channels`, registered: from here on, closing
        drops it."""
        sink = self.subscriptions[id] = Sink(self, id, frozenset(channels))
        self.channels.opened(sink.channels)
        return sink

    def drop(self, id: str) -> bool:
        """End the subscription `id` on every channel; tell whether there was one."""
        sink = self.subscriptions.pop(id, None)
        if sink is None:
            return False
        self.channels.closed(sink.channels)
        for stream in sink.streams:
            stream.close()
        return True

    def close(self) -> None:
        """End every subscription."""
        for id in list(self.subscriptions):
            self.drop(id)


class Sink:
    """One subscription of a socket: where its channels' messages go, and how far the
    changes it carries got (for the resume position)."""

    def __init__(self, conn: Connection, id: str, channels: frozenset[str]) -> None:
        self.conn = conn
        self.id = id
        self.channels = channels  # the names it was made on
        self.hold_limit = conn.queue_size  # live changes a replay may hold back
        self.streams: list[Stream] = []
        self.joined = False  # it carries feed changes (see `begin`)
        self.live_from = 0
        # While its replay is being sent: the position up to which the subscriber has every
        # change it asked for (its `since`, then each replayed one); None once it is live.
        self.replayed: int | None = None
        self._heads = protocol.heads(id)
        # The text of `reminder` messages: set by the channel that sends them.
        self.describe: protocol.Describe = protocol.no_text

    def push(self, message: dict[str, Any]) -> bool:
        """Send a live message that carries no feed position (a stats update)."""
        return self.conn.offer(protocol.encode(message), 0)

    # What a feed subscription needs (feed.replay.Target).
    def begin(self, live_from: int, since: int | None) -> None:
        """Note that live changes follow `live_from`, and a replay begins after `since`."""
        self.joined = True
        self.live_from = live_from
        self.replayed = since

    def live(self, change: Change) -> bool:
        """Send a live change now, or queue it; False when the queue is full."""
        message = protocol.feed_message(self._heads, change, self.describe)
        return self.conn.offer(message, change.position)

    def take(self, change: Change) -> bool:
        """Queue a replayed change if there is room now; False if not, or closed as slow."""
        message = protocol.feed_message(self._heads, change, self.describe)
        return self.conn.try_enqueue((message, change.position, self))

    async def send(self, change: Change) -> bool:
        """Queue a replayed change, waiting for room."""
        message = protocol.feed_message(self._heads, change, self.describe)
        return await self.conn.enqueue((message, change.position, self))

    async def caught_up(self, position: int) -> None:
        """Mark the end of the replay: from `position` on the subscription is live."""
        await self.conn.enqueue((b"", position, self))

    def lost(self) -> None:
        """Close the socket as slow: its subscriber resumes from the close reason."""
        self.conn.slow.set()


async def close_when_slow(conn: Connection, writer: asyncio.Task[None]) -> None:
    """Close the socket once it is marked slow (saying the resume position) or ended."""
    await conn.slow.wait()
    # Stop the writer first: no data frame may follow the close frame.
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    if conn.ending is not None:
        code, reason = conn.ending
    else:
        position = conn.resume_position()
        log.info("closing a slow WebSocket subscriber at position %d", position)
        code, reason = protocol.CLOSE_SLOW_CONSUMER, f"slow consumer; last position {position}"
        conn.counters.ws_slow_closed += 1
    conn.close()
    # What is still queued is dropped: the close reason tells the client where to resume.
    with suppress(ConnectionError, RuntimeError):
        await conn.ws.close(code=code, message=reason.encode())
