"""GET /ws: one socket, one writer task, a bounded queue, subscriptions to the feed hub."""

from __future__ import annotations

import asyncio
import logging
import struct
from contextlib import suppress

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from eventd.feed.hub import Hub, Subscription, change_body
from eventd.keys import CLOCK, CONFIG, HUB, SOCKETS
from eventd.stats.channel import StatsSubscription, stats_subscription
from eventd.stats.keys import STATS
from eventd.stats.service import StatsService
from eventd.store.base import FeedPage, StorageError
from eventd.times import format_us
from eventd.ws import protocol
from eventd.ws.protocol import Ping, Subscribe, Unsubscribe

log = logging.getLogger(__name__)
_REPLAY_PAGE = 500
# Direct writes stop while this much is buffered for the socket (the writer task takes over).
DIRECT_WRITE_LIMIT = 64 * 1024
Entry = tuple[bytes, int, Subscription | None]


def text_frame(payload: bytes) -> bytes:
    """Return `payload` as one unmasked, uncompressed WebSocket text frame (RFC 6455 5.2)."""
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 65536:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


class Connection:
    """The state of one socket: its queue, its writer task and its subscriptions."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        hub: Hub,
        stats: StatsService,
        queue_size: int,
        transport: asyncio.WriteTransport | None,
        max_subscriptions: int = 100,
    ) -> None:
        self.ws = ws
        self.hub = hub
        self.stats = stats
        # (message, position of the change it carries or 0, the subscription whose replay it
        # belongs to or None for live messages and replies); see `writer`.
        self.queue: asyncio.Queue[Entry] = asyncio.Queue(queue_size)
        self.queue_size = queue_size
        self.max_subscriptions = max_subscriptions
        self.subscriptions: dict[str, Subscription] = {}
        self.stats_subscriptions: dict[str, StatsSubscription] = {}
        self.delivered = 0  # position of the last live change written to the socket
        self.slow = asyncio.Event()
        self.transport = transport
        self.sending = False  # the writer task is inside send_frame

    def offer(self, message: bytes, position: int) -> bool:
        """Send a live message now if the socket keeps up, else queue it; on a full queue,
        mark the connection slow."""
        transport = self.transport
        if transport is not None and self._can_write_now(transport):
            transport.write(text_frame(message))
            self.delivered = max(self.delivered, position)
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
            and not transport.is_closing()
            and transport.get_write_buffer_size() < DIRECT_WRITE_LIMIT
        )

    async def writer(self) -> None:
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

    def resume_position(self) -> int:
        """Return a position up to which every subscription got all of its changes."""
        # Live messages are written in position order, so a live subscription has all of its
        # changes up to `delivered`; a replaying one only up to what its replay wrote.
        return min(
            (
                max(s.live_from, self.delivered) if s.replayed is None else s.replayed
                for s in self.subscriptions.values()
            ),
            default=self.delivered,
        )

    def drop(self, id: str) -> bool:
        """End the subscription `id` on every channel; tell whether there was one."""
        subscription = self.subscriptions.pop(id, None)
        if subscription is not None:
            self.hub.unsubscribe(subscription)
        stats = self.stats_subscriptions.pop(id, None)
        if stats is not None:
            self.stats.listeners.discard(stats.push)
        return subscription is not None or stats is not None

    def close(self) -> None:
        for id in list(self.subscriptions) + list(self.stats_subscriptions):
            self.drop(id)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Serve one WebSocket connection until either side closes it."""
    config = request.app[CONFIG].feed
    # No per-message compression: a change is serialised once for every subscriber, and
    # compressing it again per socket would cost more than the bytes it saves on a LAN.
    ws = web.WebSocketResponse(
        heartbeat=config.heartbeat, max_msg_size=protocol.MAX_MESSAGE_BYTES, compress=False
    )
    await ws.prepare(request)
    hub = request.app[HUB]
    transport = request.transport
    direct = transport if isinstance(transport, asyncio.WriteTransport) else None
    conn = Connection(
        ws, hub, request.app[STATS], config.send_queue, direct, config.max_subscriptions_per_socket
    )
    request.app[SOCKETS].add(ws)
    writer = asyncio.create_task(conn.writer(), name="ws-writer")
    watchdog = asyncio.create_task(_close_when_slow(conn, writer), name="ws-watchdog")
    try:
        welcome = {
            "type": "welcome",
            "server_time": format_us(request.app[CLOCK]()),
            "position": hub.position,
            "epoch": hub.epoch,
            "heartbeat": config.heartbeat,
        }
        await ws.send_frame(protocol.encode(welcome), WSMsgType.TEXT)
        async for frame in ws:
            if frame.type == WSMsgType.TEXT:
                await _handle(conn, frame.data)
            elif frame.type == WSMsgType.BINARY:
                await _reply(conn, protocol.error("bad_message", "send JSON text frames"))
    except Exception:
        log.exception("WebSocket handler failed")
        await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"internal error")
    finally:
        conn.close()
        writer.cancel()
        watchdog.cancel()
        await asyncio.gather(writer, watchdog, return_exceptions=True)
        request.app[SOCKETS].discard(ws)
    return ws


async def _close_when_slow(conn: Connection, writer: asyncio.Task[None]) -> None:
    await conn.slow.wait()
    # Stop the writer first: no data frame may follow the close frame.
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    position = conn.resume_position()
    log.info("closing a slow WebSocket subscriber at position %d", position)
    conn.close()
    # What is still queued is dropped: the close reason tells the client where to resume.
    with suppress(ConnectionError, RuntimeError):
        await conn.ws.close(
            code=protocol.CLOSE_SLOW_CONSUMER,
            message=f"slow consumer; last position {position}".encode(),
        )


async def _reply(conn: Connection, message: bytes) -> None:
    """Queue a reply behind what is already queued, waiting for room if need be."""
    await _enqueue(conn, (message, 0, None))


async def _enqueue(conn: Connection, entry: Entry) -> bool:
    """Queue `entry`, waiting for room; return False, without queueing, once the connection
    is closed as slow (its writer stopped: waiting for room would wait for ever)."""
    if conn.slow.is_set():
        return False
    try:
        conn.queue.put_nowait(entry)
        return True
    except asyncio.QueueFull:
        pass
    put = asyncio.create_task(conn.queue.put(entry), name="ws-enqueue")
    slow = asyncio.create_task(conn.slow.wait(), name="ws-enqueue-slow")
    try:
        await asyncio.wait({put, slow}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        slow.cancel()
        put.cancel()  # a no-op once the entry is in
        await asyncio.gather(put, slow, return_exceptions=True)
    return not put.cancelled()


async def _handle(conn: Connection, text: str) -> None:
    try:
        message = protocol.decode_client(text)
    except msgspec.ValidationError as exc:
        await _reply(conn, protocol.error("bad_message", str(exc), protocol.request_id(text)))
        return
    except msgspec.DecodeError as exc:
        await _reply(conn, protocol.error("bad_json", str(exc)))
        return
    except RecursionError:  # msgspec refuses nesting deeper than the interpreter's stack
        await _reply(conn, protocol.error("bad_json", "JSON nested too deeply"))
        return
    match message:
        case Subscribe():
            await _subscribe(conn, message)
        case Unsubscribe(id=id):
            if not conn.drop(id):
                await _reply(conn, protocol.error("unknown_subscription", "no such id", id))
                return
            await _reply(conn, protocol.encode({"type": "unsubscribed", "id": id}))
        case Ping(id=id):
            await _reply(conn, protocol.encode({"type": "pong", "id": id}))


async def _subscribe(conn: Connection, request: Subscribe) -> None:
    refusal = _refusal(conn, request)
    if refusal is not None:
        await _reply(conn, refusal)
        return
    stats: StatsSubscription | None = None
    if "stats" in request.channels:
        made = stats_subscription(request.id, conn.offer, conn.stats, request)
        if isinstance(made, str):
            await _reply(conn, protocol.error("bad_message", made, request.id))
            return
        stats = made
        # Wait until the windows hold this daemon's acknowledged writes (or the wait timed
        # out: the ticks bring them later). Before the events subscription is made: the live
        # changes it would hold meanwhile, up to `send_queue`, would overflow it.
        await conn.stats.caught_up()
    if "events" not in request.channels:
        assert stats is not None
        await _reply(conn, protocol.encode({"type": "subscribed", "id": request.id}))
        _start_stats(conn, stats)
        return
    try:
        await _subscribe_events(conn, request, stats)
    except StorageError as exc:
        # The subscription ends here (even after `subscribed`): the client tries again later
        # with `since`, and the connection stays.
        log.info("a subscription failed to read the feed: %s", exc)
        conn.drop(request.id)
        message = "the store did not answer; subscribe again with since"
        await _reply(conn, protocol.error("unavailable", message, request.id))


def _refusal(conn: Connection, request: Subscribe) -> bytes | None:
    """Return the error that refuses `request` before anything is made, if any."""
    id = request.id
    if id in conn.subscriptions or id in conn.stats_subscriptions:
        return protocol.error("duplicate_subscription", "id in use", id)
    unknown = set(request.channels) - protocol.CHANNELS
    if unknown or not request.channels:
        known = ", ".join(sorted(protocol.CHANNELS))
        return protocol.error("bad_message", f"channels: use {known}", id)
    if request.windows is not None and "stats" not in request.channels:
        return protocol.error("bad_message", "windows: only the stats channel has windows", id)
    held = len(conn.subscriptions.keys() | conn.stats_subscriptions.keys())
    if held >= conn.max_subscriptions:
        message = f"a connection holds at most {conn.max_subscriptions} subscriptions"
        return protocol.error("too_many_subscriptions", message, id)
    return _unready(conn, request)


def _unready(conn: Connection, request: Subscribe) -> bytes | None:
    """Return the error that refuses an `events` subscription while the hub is not ready."""
    if "events" not in request.channels or conn.hub.ready:
        return None
    # Until the hub has read the feed's head it cannot say where live changes begin: a
    # replay would end at 0 and the changes up to the head would never be sent.
    message = "the feed's head is not known yet; subscribe again later"
    return protocol.error("unavailable", message, request.id)


async def _subscribe_events(
    conn: Connection, request: Subscribe, stats: StatsSubscription | None
) -> None:
    unready = _unready(conn, request)  # again: the stats may have been waited for
    if unready is not None:
        await _reply(conn, unready)
        return
    filter = request.filter or protocol.Filter()
    subscription = Subscription(
        request.id,
        conn.offer,
        types=protocol.as_set(filter.type),
        keys=protocol.as_set(filter.key),
        after=request.since or 0,
        held=[] if request.since is not None else None,
        hold_limit=conn.queue_size,
        lost=conn.slow.set,
        replayed=request.since,
    )
    # No await between these two: the replay ends, and the epoch is read, where live begins.
    live_from = subscription.live_from = conn.hub.subscribe(subscription)
    epoch = conn.hub.epoch
    conn.subscriptions[request.id] = subscription  # from here on, closing drops it
    page: FeedPage | None = None
    if request.since is not None:
        page = await conn.hub.engine.read_changes(request.since, _REPLAY_PAGE)
        reason = _discontinuity(request, page, epoch)
        if reason is not None:  # say so, and make nothing
            conn.drop(request.id)
            await _reply(conn, _truncated(request, page, epoch, reason))
            return
    subscribed = {"type": "subscribed", "id": request.id, "position": live_from, "epoch": epoch}
    await _reply(conn, protocol.encode(subscribed))
    if stats is not None:
        _start_stats(conn, stats)
    if page is not None:
        await _replay(conn, subscription, page, live_from)


def _discontinuity(request: Subscribe, page: FeedPage, epoch: str | None) -> str | None:
    """Return why the feed cannot continue from the request's `since`, if it cannot."""
    assert request.since is not None
    if request.epoch is not None and epoch is not None and request.epoch != epoch:
        return "epoch"  # the store was cleared, or is another one (a restarted memory daemon)
    if request.since > page.head:
        return "ahead"  # no such position yet: another store, or one that restarted empty
    if page.oldest > request.since + 1:
        return "trimmed"  # older than the feed's history
    return None


def _truncated(request: Subscribe, page: FeedPage, epoch: str | None, reason: str) -> bytes:
    truncated = {"type": "history_truncated", "id": request.id, "since": request.since}
    held = {"oldest": page.oldest, "head": page.head, "epoch": epoch, "reason": reason}
    return protocol.encode(truncated | held)


def _start_stats(conn: Connection, stats: StatsSubscription) -> None:
    """Send the snapshot of the windows; later ticks send what changed."""
    conn.stats_subscriptions[stats.id] = stats
    stats.push(conn.stats, conn.stats.snapshot(type=stats.type))
    conn.stats.listeners.add(stats.push)


async def _replay(conn: Connection, subscription: Subscription, page: FeedPage, until: int) -> None:
    """Send the matching changes from `page` on up to `until`, then those held meanwhile."""
    while page.changes and page.changes[0].position <= until:
        for change in page.changes:
            if change.position > until:
                break
            if subscription.matches(change):
                message = subscription.message(change_body(change))
                if subscription.overflowed or not await _enqueue(
                    conn, (message, change.position, subscription)
                ):
                    return  # the connection closes: the close reason says where to resume
        page = await conn.hub.engine.read_changes(page.changes[-1].position, _REPLAY_PAGE)
    await _catch_up(conn, subscription)


async def _catch_up(conn: Connection, subscription: Subscription) -> None:
    """Send the live changes held during the replay, then let new ones go out directly."""
    while subscription.held and not subscription.overflowed:
        held, subscription.held = subscription.held, []
        for message, position in held:
            if not await _enqueue(conn, (message, position, subscription)):
                return
    if subscription.overflowed:
        return
    # No await since `held` was found empty: every change up to the hub's position is queued.
    subscription.held = None
    await _enqueue(conn, (b"", conn.hub.position, subscription))
