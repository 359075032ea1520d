"""An async client of eventd's /ws feed that reconnects by itself and never skips a change.

    async with aiohttp.ClientSession() as session:
        subscriber = Subscriber(session, "http://127.0.0.1:8080", filter={"type": "deploy"})
        async for change in subscriber:
            print(change["position"], change["op"], change["event"])

It subscribes to the `events` channel unless `channels` names others: with
`channels=["reminders"]` it yields `reminder` messages (`message["type"]` tells the kinds
apart when it names both), in position order like changes. `also` names other messages to
yield as they come, such as `stats` pushes and each connection's `subscribed`.

After a dropped connection it reconnects with exponential backoff and resubscribes with
`since` set to the last position it yielded, and the feed epoch that position belongs to
once it knows it (from `subscribed` or a `cleared` change), so the server replays what was
missed; a change is never yielded twice. When the server no longer holds that history (it
was trimmed, the store was cleared or lost its history, or it is another store, such as a
restarted memory daemon) it raises `HistoryTruncated`: re-list over HTTP, then subscribe anew.

A daemon with tokens configured wants one: `token="<secret>"` sends it as
`Authorization: Bearer <secret>` on every connection's upgrade, reconnections included. A
token the daemon does not know raises `Unauthorized`, one without the `read` scope (or no
token where the daemon grants nothing without one) raises `Forbidden`; neither is retried.
Nor is an upgrade refused with another 4xx, such as a request the server cannot read (a
header too long) or a `Host` or `Origin` it does not serve: `Refused`, with the `status`.
A 408, a 429 and a 5xx are retried.
The secret never appears in what the client logs or raises. For your own HTTP requests,
`bearer(token)` gives the same header (`aiohttp.ClientSession(headers=bearer(token))`).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from http import HTTPStatus
from typing import Any

import aiohttp
import msgspec

log = logging.getLogger(__name__)
_encode = msgspec.json.encode
_decode = msgspec.json.decode
# Messages that carry a feed position: what iterating a subscriber yields.
FEED_MESSAGES = frozenset({"change", "reminder"})
# The close code of a refused token (docs/websocket.md); the client stands alone, so it is
# written here rather than imported from the server's ws package.
CLOSE_UNAUTHORIZED = 4001


class FeedError(Exception):
    """The server refused the subscription."""


class Unauthorized(FeedError):
    """The server refused the token, or wants one: close code 4001, or 401 on the upgrade."""


class Forbidden(FeedError):
    """The token, or the lack of one, does not grant the subscription its scope (`read`)."""


class Refused(FeedError):
    """The server refused the upgrade request itself (a 4xx): the same one would be again."""

    def __init__(self, status: int) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "client error"
        super().__init__(f"the server answered the upgrade with {status} ({reason})")
        self.status = status


def bearer(token: str) -> dict[str, str]:
    """Return the `Authorization` header that carries `token`; refuse one no header can."""
    # Checked here so that aiohttp never sees (nor echoes) a value it would reject; the
    # error names no character of the secret.
    if not token or not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError("token: must be printable ASCII without spaces, and not empty")
    return {"Authorization": f"Bearer {token}"}


# Client errors that another attempt may get past: a timeout, a rate limit.
PASSING_REFUSALS = frozenset({408, 425, 429})


def _check_token(ws: aiohttp.ClientWebSocketResponse | None, failure: Exception | None) -> None:
    """Raise `Unauthorized` if the server refused the token, `Refused` if it refused the
    request for what it is: retrying would send either again."""
    if isinstance(failure, aiohttp.WSServerHandshakeError):
        status = failure.status
        if status == 401:
            raise Unauthorized("the server answered the upgrade with 401") from None
        if 400 <= status < 500 and status not in PASSING_REFUSALS:
            raise Refused(status) from None
    if ws is not None and ws.close_code == CLOSE_UNAUTHORIZED:
        raise Unauthorized("the server refused the token (close code 4001)")


class _Unavailable(Exception):
    """The server's store did not answer: try again on a new connection."""


class HistoryTruncated(FeedError):
    """The changes after the resume position are no longer held by the server."""

    def __init__(self, message: Mapping[str, Any]) -> None:
        super().__init__(
            f"history truncated ({message.get('reason')}): resumed from {message['since']}, "
            f"oldest kept {message['oldest']}"
        )
        self.oldest: int = message["oldest"]
        self.head: int = message["head"]
        self.epoch: str | None = message.get("epoch")  # the server's current epoch
        self.reason: str | None = message.get("reason")


class Subscriber:
    """One subscription that survives disconnections; iterate it for its feed messages
    (`change`, and `reminder` on the `reminders` channel)."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        filter: Mapping[str, str | list[str]] | None = None,
        channels: Sequence[str] | None = None,
        since: int | None = None,
        epoch: str | None = None,
        first_delay: float = 0.05,
        max_delay: float = 5.0,
        also: Collection[str] = (),
        on_retry: Callable[[str], object] | None = None,
        token: str | None = None,
    ) -> None:
        self.session = session
        # Only the header is kept, in a private attribute: no repr or log shows it.
        self._headers = bearer(token) if token is not None else {}
        self.url = base_url.rstrip("/").replace("http", "ws", 1) + "/ws"
        self.filter = dict(filter) if filter else None
        self.channels = list(channels) if channels else None  # None: the server's default
        self.position = since  # the last position yielded (or resumed from)
        self.epoch = epoch  # the feed epoch `position` belongs to, once known
        self.first_delay = first_delay
        self.max_delay = max_delay
        # Other messages to yield as they come: `subscribed` (one per connection), or the
        # `stats` and `transitions` pushes, which carry no position and start afresh with a
        # snapshot on each connection.
        self.also = frozenset(also)
        self.on_retry = on_retry  # called with the reason before each wait to reconnect
        self.connections = 0
        self.connected = asyncio.Event()

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self.changes()

    async def changes(self) -> AsyncIterator[dict[str, Any]]:
        """Yield feed messages in position order, reconnecting as needed."""
        # One generator, not one per connection: a wide fan-out pays for every resume.
        delay = self.first_delay
        while True:
            ws: aiohttp.ClientWebSocketResponse | None = None
            failure: Exception | None = None
            try:
                async with self.session.ws_connect(self.url, headers=self._headers) as ws:
                    await self._subscribe(ws)
                    async for frame in ws:
                        if frame.type != aiohttp.WSMsgType.TEXT:
                            break
                        message = _decode(frame.data)
                        kind = message["type"]
                        if kind not in FEED_MESSAGES:
                            self._control(message)
                            if kind in self.also:
                                if kind != "subscribed":  # progress, not just a handshake
                                    delay = self.first_delay
                                yield message
                        elif self.position is None or message["position"] > self.position:
                            self.position = message["position"]
                            self.epoch = message.get("epoch", self.epoch)  # a clear renews it
                            delay = self.first_delay
                            yield message
                    reason = f"connection closed with code {ws.close_code}"
            except (aiohttp.ClientError, ConnectionError, TimeoutError, _Unavailable) as exc:
                reason = f"connection failed: {exc or type(exc).__name__}"
                failure = exc
            _check_token(ws, failure)
            log.info("eventd feed: %s", reason)
            self.connected.clear()
            if self.on_retry is not None:
                self.on_retry(reason)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))  # noqa: S311 - jitter
            delay = min(delay * 2, self.max_delay)

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.connections += 1
        request: dict[str, Any] = {"type": "subscribe", "id": "feed", "since": self.position}
        if self.position is not None and self.epoch is not None:
            request["epoch"] = self.epoch
        if self.filter:
            request["filter"] = self.filter
        if self.channels:
            request["channels"] = self.channels
        await ws.send_str(_encode(request).decode())

    def _control(self, message: dict[str, Any]) -> None:
        """Act on a message that is not a change."""
        kind = message["type"]
        if kind == "subscribed":
            if self.position is None:  # a stats-only subscription has none
                self.position = message.get("position")
            self.epoch = message.get("epoch", self.epoch)
            self.connected.set()
        elif kind == "history_truncated":
            raise HistoryTruncated(message)
        elif kind == "error" and message["code"] == "unavailable":
            raise _Unavailable(message["message"])
        elif kind == "error" and message["code"] == "forbidden":
            raise Forbidden(f"forbidden: {message['message']}")
        elif kind == "error":
            raise FeedError(f"{message['code']}: {message['message']}")
