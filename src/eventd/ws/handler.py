"""GET /ws: one socket, one writer task, a bounded queue, subscriptions to the feed hub."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

import msgspec
from aiohttp import WSMsgType, web

from eventd.feed import Hub, Subscription, change_body, change_message
from eventd.keys import CLOCK, CONFIG, HUB, SOCKETS
from eventd.times import format_us
from eventd.ws import protocol
from eventd.ws.protocol import Ping, Subscribe, Unsubscribe

log = logging.getLogger(__name__)
_REPLAY_PAGE = 500


class Connection:
    """The state of one socket: its queue, its writer task and its subscriptions."""

    def __init__(self, ws: web.WebSocketResponse, hub: Hub, queue_size: int) -> None:
        self.ws = ws
        self.hub = hub
        # (message, position of the change it carries, or 0 for replies)
        self.queue: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue(queue_size)
        self.queue_size = queue_size
        self.subscriptions: dict[str, Subscription] = {}
        self.delivered = 0  # position of the last change written to the socket
        self.slow = asyncio.Event()

    def offer(self, message: bytes, position: int) -> bool:
        """Queue a live change; on a full queue, mark the connection slow."""
        try:
            self.queue.put_nowait((message, position))
        except asyncio.QueueFull:
            self.slow.set()
            return False
        return True

    async def writer(self) -> None:
        while True:
            message, position = await self.queue.get()
            # send_frame hands the bytes to the transport before it waits for it to drain:
            # from there on the change counts as delivered.
            self.delivered = max(self.delivered, position)
            await self.ws.send_frame(message, WSMsgType.TEXT)

    def close(self) -> None:
        for subscription in self.subscriptions.values():
            self.hub.unsubscribe(subscription)
        self.subscriptions.clear()


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Serve one WebSocket connection until either side closes it."""
    config = request.app[CONFIG].feed
    ws = web.WebSocketResponse(heartbeat=config.heartbeat, max_msg_size=protocol.MAX_MESSAGE_BYTES)
    await ws.prepare(request)
    hub = request.app[HUB]
    conn = Connection(ws, hub, config.send_queue)
    request.app[SOCKETS].add(ws)
    writer = asyncio.create_task(conn.writer(), name="ws-writer")
    watchdog = asyncio.create_task(_close_when_slow(conn), name="ws-watchdog")
    try:
        welcome = {
            "type": "welcome",
            "server_time": format_us(request.app[CLOCK]()),
            "position": hub.position,
            "heartbeat": config.heartbeat,
        }
        await ws.send_frame(protocol.encode(welcome), WSMsgType.TEXT)
        async for frame in ws:
            if frame.type == WSMsgType.TEXT:
                await _handle(conn, frame.data)
            elif frame.type == WSMsgType.BINARY:
                await _reply(conn, protocol.error("bad_message", "send JSON text frames"))
    finally:
        conn.close()
        writer.cancel()
        watchdog.cancel()
        await asyncio.gather(writer, watchdog, return_exceptions=True)
        request.app[SOCKETS].discard(ws)
    return ws


async def _close_when_slow(conn: Connection) -> None:
    await conn.slow.wait()
    position = conn.delivered
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
    await conn.queue.put((message, 0))


async def _handle(conn: Connection, text: str) -> None:
    try:
        message = protocol.decode_client(text)
    except msgspec.ValidationError as exc:
        await _reply(conn, protocol.error("bad_message", str(exc)))
        return
    except msgspec.DecodeError as exc:
        await _reply(conn, protocol.error("bad_json", str(exc)))
        return
    match message:
        case Subscribe():
            await _subscribe(conn, message)
        case Unsubscribe(id=id):
            subscription = conn.subscriptions.pop(id, None)
            if subscription is None:
                await _reply(conn, protocol.error("unknown_subscription", "no such id", id))
                return
            conn.hub.unsubscribe(subscription)
            await _reply(conn, protocol.encode({"type": "unsubscribed", "id": id}))
        case Ping(id=id):
            await _reply(conn, protocol.encode({"type": "pong", "id": id}))


async def _subscribe(conn: Connection, request: Subscribe) -> None:
    if request.id in conn.subscriptions:
        await _reply(conn, protocol.error("duplicate_subscription", "id in use", request.id))
        return
    unknown = set(request.channels) - protocol.CHANNELS
    if unknown or not request.channels:
        known = ", ".join(sorted(protocol.CHANNELS))
        await _reply(conn, protocol.error("bad_message", f"channels: use {known}", request.id))
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
    )
    live_from = conn.hub.subscribe(subscription)  # no await before the replay's end point
    conn.subscriptions[request.id] = subscription
    await _reply(
        conn, protocol.encode({"type": "subscribed", "id": request.id, "position": live_from})
    )
    if request.since is not None:
        await _replay(conn, subscription, request.since, live_from)


async def _replay(conn: Connection, subscription: Subscription, since: int, until: int) -> None:
    """Send the matching changes in (since, until], then release the held live ones."""
    page = await conn.hub.engine.read_changes(since, _REPLAY_PAGE)
    if since > page.head or page.oldest > since + 1:
        # Continuity is lost (history trimmed, or a store that restarted empty): say so.
        conn.hub.unsubscribe(subscription)
        conn.subscriptions.pop(subscription.id, None)
        truncated = {"type": "history_truncated", "id": subscription.id, "since": since}
        await _reply(conn, protocol.encode(truncated | {"oldest": page.oldest, "head": page.head}))
        return
    while page.changes and page.changes[0].position <= until:
        for change in page.changes:
            if change.position > until:
                break
            if subscription.matches(change):
                message = change_message(subscription.id, change_body(change))
                await conn.queue.put((message, change.position))
        page = await conn.hub.engine.read_changes(page.changes[-1].position, _REPLAY_PAGE)
    subscription.release()
