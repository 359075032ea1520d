"""GET /ws: the socket's lifecycle, and the dispatch of its messages by `type`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web

from eventd.access import GATE, request_grant, set_grant
from eventd.keys import CLOCK, CONFIG, COUNTERS, HUB, SOCKETS
from eventd.ratelimit import RATE_LIMITS, MessageBucket, retry_seconds
from eventd.store.base import StorageError
from eventd.times import format_us
from eventd.ws import protocol
from eventd.ws.channels import Refusal, channels
from eventd.ws.connection import Connection, Sink, close_when_slow
from eventd.ws.protocol import Auth, Ping, Subscribe, Unsubscribe

log = logging.getLogger(__name__)


async def websocket(request: web.Request) -> web.WebSocketResponse:
    """Serve one WebSocket connection until either side closes it."""
    config = request.app[CONFIG].feed
    # No per-message compression: a change is serialised once for every subscriber, and
    # compressing it again per socket would cost more than the bytes it saves on a LAN.
    ws = web.WebSocketResponse(
        heartbeat=config.heartbeat, max_msg_size=protocol.MAX_MESSAGE_BYTES, compress=False
    )
    grant = request_grant(request)
    await ws.prepare(request)
    if grant is None:
        await ws.close(code=protocol.CLOSE_UNAUTHORIZED, message=b"the token is not known")
        return ws
    hub = request.app[HUB]
    transport = request.transport
    direct = transport if isinstance(transport, asyncio.WriteTransport) else None
    conn = Connection(ws, channels(request.app), config.send_queue, direct, request.app[COUNTERS])
    conn.grant, conn.gate = grant, request.app.get(GATE)
    request.app[SOCKETS].add(ws)
    writer = asyncio.create_task(conn.writer(), name="ws-writer")
    watchdog = asyncio.create_task(close_when_slow(conn, writer), name="ws-watchdog")
    deadline = asyncio.create_task(_auth_deadline(conn), name="ws-auth-deadline")
    try:
        welcome = {
            "type": "welcome",
            "server_time": format_us(request.app[CLOCK]()),
            "position": hub.position,
            "epoch": hub.epoch,
            "heartbeat": config.heartbeat,
        }
        await ws.send_frame(protocol.encode(welcome), WSMsgType.TEXT)
        conn.counters.ws_messages_sent += 1
        limits = request.app.get(RATE_LIMITS)
        bucket = None if limits is None else limits.message_bucket()
        async for frame in ws:
            if bucket is not None and await _throttled(conn, bucket, request.app[CLOCK]()):
                continue
            if frame.type == WSMsgType.TEXT:
                await handle(conn, frame.data)
            elif frame.type == WSMsgType.BINARY:
                await conn.reply(protocol.error("bad_message", "send JSON text frames"))
    except Exception:
        log.exception("WebSocket handler failed")
        await ws.close(code=WSCloseCode.INTERNAL_ERROR, message=b"internal error")
    finally:
        # Before any await: once the client has closed, aiohttp may cancel this handler
        # while it waits below, and the socket must not stay registered (nor counted).
        request.app[SOCKETS].discard(ws)
        set_grant(request, conn.grant)  # the access log names a token an `auth` message sent
        conn.close()
        for task in (writer, watchdog, deadline):
            task.cancel()
        await asyncio.gather(writer, watchdog, deadline, return_exceptions=True)
    return ws


async def _throttled(conn: Connection, bucket: MessageBucket, now: int) -> bool:
    """Refuse a message over the socket's `limits.ws_rate`, closing it after too many."""
    wait = bucket.take(now)
    if not wait:
        return False
    if bucket.exhausted:
        conn.end(protocol.CLOSE_RATE_LIMITED, f"rate limited: {bucket.strikes} messages refused")
        return True
    seconds = retry_seconds(wait)
    message = f"Too many requests, retry in {seconds}s"
    await conn.reply(protocol.error("rate_limited", message))
    return True


async def _auth_deadline(conn: Connection) -> None:
    """Close a socket without the read scope that sends no good `auth` message in time."""
    if conn.gate is None or conn.grant.allows("read"):
        return
    timeout = conn.gate.handshake_timeout
    try:
        await asyncio.wait_for(conn.authenticated.wait(), timeout)
    except TimeoutError:
        conn.end(protocol.CLOSE_UNAUTHORIZED, f"no auth message within {timeout:g} s")


async def handle(conn: Connection, text: str) -> None:
    """Decode one client message and hand it to the `handle_<type>` function for its type."""
    try:
        message = protocol.decode_client(text)
    except msgspec.ValidationError as exc:
        await conn.reply(protocol.error("bad_message", str(exc), protocol.request_id(text)))
        return
    except msgspec.DecodeError as exc:
        await conn.reply(protocol.error("bad_json", str(exc)))
        return
    except RecursionError:  # msgspec refuses nesting deeper than the interpreter's stack
        await conn.reply(protocol.error("bad_json", "JSON nested too deeply"))
        return
    await HANDLERS[type(message)](conn, message)


async def handle_ping(conn: Connection, message: Ping) -> None:
    """Answer with a `pong`."""
    await conn.reply(protocol.encode({"type": "pong", "id": message.id}))


async def handle_auth(conn: Connection, message: Auth) -> None:
    """Take the grant of the message's token, or close the socket with 4001."""
    grant = None if conn.gate is None else conn.gate.check(message.token)
    if grant is None:
        conn.end(protocol.CLOSE_UNAUTHORIZED, "the token is not known")
        return
    conn.grant = grant
    conn.authenticated.set()
    scopes = sorted(grant.scopes)
    await conn.reply(protocol.encode({"type": "auth_ok", "name": grant.name, "scopes": scopes}))


async def handle_unsubscribe(conn: Connection, message: Unsubscribe) -> None:
    """End a subscription on every channel."""
    if not conn.drop(message.id):
        await conn.reply(protocol.error("unknown_subscription", "no such id", message.id))
        return
    await conn.reply(protocol.encode({"type": "unsubscribed", "id": message.id}))


async def handle_subscribe(conn: Connection, request: Subscribe) -> None:
    """Make a subscription on the channels it names, in the phases of ws/channels.py."""
    refusal = _refusal(conn, request)
    if refusal is not None:
        await conn.reply(refusal)
        return
    try:
        for channel in conn.channels.chosen(request):
            await channel.prepare(request)
        sink = _open(conn, request)
        if isinstance(sink, Refusal):
            await conn.reply(protocol.encode(sink.message))
            return
        subscribed: dict[str, Any] = {"type": "subscribed", "id": request.id}
        for stream in sink.streams:
            fields = await stream.ready()
            if isinstance(fields, Refusal):  # say so, and make nothing
                conn.drop(request.id)
                await conn.reply(protocol.encode(fields.message))
                return
            subscribed |= fields
        await conn.reply(protocol.encode(subscribed))
        if conn.subscriptions.get(request.id) is not sink:
            return  # the socket was closed as slow meanwhile: start nothing it cannot drop
        for stream in sink.streams:
            stream.start()
        for stream in sink.streams:
            await stream.run()
    except StorageError as exc:
        # The subscription ends here (even after `subscribed`): the client tries again later
        # with `since`, and the connection stays.
        log.info("a subscription failed to read the feed: %s", exc)
        conn.drop(request.id)
        message = "the store did not answer; subscribe again with since"
        await conn.reply(protocol.error("unavailable", message, request.id))


def _refusal(conn: Connection, request: Subscribe) -> bytes | None:
    """Return the answer to a subscription the socket may not make, if it may not."""
    if not conn.grant.allows("read"):
        message = "subscribing needs the read scope: send an auth message with a token first"
        return protocol.error("forbidden", message, request.id)
    refusal = conn.channels.refusal(request, conn.subscriptions.keys())
    return None if refusal is None else protocol.encode(refusal.message)


def _open(conn: Connection, request: Subscribe) -> Sink | Refusal:
    """Make the subscription on each channel; on a refusal, drop what was made."""
    sink = conn.sink(request.id, request.channels)
    for channel in conn.channels.serving(request):
        stream = channel.open(request, sink)
        if isinstance(stream, Refusal):
            conn.drop(request.id)
            return stream
        sink.streams.append(stream)
    return sink


Handler = Callable[[Connection, Any], Awaitable[None]]
HANDLERS: dict[type[protocol.ClientMessage], Handler] = {
    Subscribe: handle_subscribe,
    Unsubscribe: handle_unsubscribe,
    Ping: handle_ping,
    Auth: handle_auth,
}
