"""Follow the daemon's feed: keep the subscriptions alive, print what they bring."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO, TextIO

import aiohttp

from eventd.client import (
    FeedError,
    Forbidden,
    HistoryTruncated,
    Refused,
    Subscriber,
    Unauthorized,
)
from eventd.tail.lines import Style, json_line, render
from eventd.tail.options import TOKEN_VARIABLE, TailOptions

# A person watching should see a restarted daemon again soon after it answers.
MAX_DELAY = 2.0
# After a lost history, at most this many of the feed's newest changes are shown again.
REPLAYED = 1000
Emit = Callable[[Mapping[str, Any]], None]


class OutputClosed(Exception):
    """The reader of stdout went away (`eventd tail | head`)."""


class Output:
    """Write lines to a byte stream, flushing each, so that a pipe sees them at once."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def write(self, line: bytes) -> None:
        try:
            self.stream.write(line + b"\n")
            self.stream.flush()
        except BrokenPipeError:
            raise OutputClosed from None


def emitter(options: TailOptions, output: Output, style: Style) -> Emit:
    """Return the function that prints one message, as NDJSON or as lines."""
    if options.json:
        return lambda message: output.write(json_line(message))

    def emit(message: Mapping[str, Any]) -> None:
        for line in render(message, style):
            # backslashreplace: an unpaired surrogate in a title must not end the tail.
            output.write(line.encode("utf-8", "backslashreplace"))

    return emit


class Status:
    """Say on stderr where the tail stands: following, waiting for the daemon, resumed."""

    def __init__(self, url: str, stream: TextIO) -> None:
        self.url = url
        self.stream = stream
        self.pending: set[Subscriber] = set()  # not subscribed yet
        self.start: int | None = None  # the position the feed subscription started after
        self.away = False

    def say(self, text: str) -> None:
        print(f"eventd tail: {text}", file=self.stream, flush=True)

    def retry(self, reason: str) -> None:
        if not self.away:  # once per outage, not once per attempt
            self.away = True
            self.say(f"waiting for {self.url}… ({reason})")

    def subscribed(self, subscriber: Subscriber) -> None:
        where = "" if subscriber.position is None else f" after position {subscriber.position}"
        if subscriber in self.pending:
            self.pending.discard(subscriber)
            self.start = subscriber.position if self.start is None else self.start
            if not self.pending:  # said once every subscription is made: then it is live
                start = "" if self.start is None else f" after position {self.start}"
                self.say(f"following {self.url}{start}")
        elif self.away:
            self.say(f"resumed at {self.url}{where}")
        self.away = False

    def truncated(self, since: int | None, exc: HistoryTruncated, start: int) -> None:
        self.say(f"history truncated ({exc.reason}): {_why(since, exc)}; {_where(start, exc)}")


def _why(since: int | None, exc: HistoryTruncated) -> str:
    if exc.reason == "epoch":
        return "the feed's history is another one (cleared, or a restarted daemon)"
    if exc.reason == "ahead":
        return f"position {since} is past the feed's head, position {exc.head}"
    return f"the changes after position {since} are no longer held"


def _where(start: int, exc: HistoryTruncated) -> str:
    if start == exc.head:
        return f"continuing from the head, position {exc.head}"
    kept = "the oldest held" if start == exc.oldest - 1 else f"the {exc.head - start} newest"
    return f"continuing after position {start} ({kept} of the feed's changes first)"


def restart_position(exc: HistoryTruncated) -> int:
    """Return where to go on after a lost history: the changes the feed still holds, at most
    the REPLAYED newest, so that those written before the tail came back are shown."""
    return max(exc.oldest - 1, exc.head - REPLAYED, 0)


async def follow(subscriber: Subscriber, emit: Emit, status: Status) -> None:
    """Print the subscription's messages for ever; go on from what the feed holds if the
    history the tail followed is gone."""
    while True:
        try:
            async for message in subscriber:
                if message["type"] == "subscribed":
                    status.subscribed(subscriber)
                else:
                    emit(message)
        except HistoryTruncated as exc:
            start = restart_position(exc)
            status.truncated(subscriber.position, exc, start)
            subscriber.position, subscriber.epoch = start, exc.epoch


def subscribers(
    session: aiohttp.ClientSession, options: TailOptions, status: Status
) -> list[Subscriber]:
    """Return one feed subscription for events and reminders, one stats one per type."""
    made = []
    if options.feed_channels:
        found: dict[str, str | list[str]] = {}
        for name, values in (("type", options.types), ("key", options.keys)):
            if values:
                found[name] = values[0] if len(values) == 1 else list(values)
        made.append(_subscriber(session, options, status, options.feed_channels, found))
        made[-1].position = options.since
    if "stats" in options.channels:
        # The daemon serves statistics for one type, or for all, per subscription.
        for kind in options.types or [None]:
            only: dict[str, str | list[str]] | None = {"type": kind} if kind else None
            made.append(_subscriber(session, options, status, ["stats"], only, "stats"))
    return made


def _subscriber(
    session: aiohttp.ClientSession,
    options: TailOptions,
    status: Status,
    channels: list[str],
    filter: dict[str, str | list[str]] | None,
    *also: str,
) -> Subscriber:
    return Subscriber(
        session,
        options.url,
        channels=channels,
        filter=filter,
        max_delay=MAX_DELAY,
        also=("subscribed", *also),
        on_retry=status.retry,
        token=options.token,  # sent again on every reconnection
    )


async def tail(options: TailOptions, out: BinaryIO, err: TextIO) -> None:
    """Follow the daemon until cancelled, or until a subscription fails for good."""
    emit = emitter(options, Output(out), Style(colour=_colour(out)))
    async with aiohttp.ClientSession() as session:
        status = Status(options.url, err)
        made = subscribers(session, options, status)
        status.pending.update(made)
        tasks = [asyncio.create_task(follow(one, emit, status)) for one in made]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()  # raises what ended it


def _colour(out: BinaryIO) -> bool:
    # https://no-color.org: set and not empty turns colours off.
    return out.isatty() and not os.environ.get("NO_COLOR")


def run(options: TailOptions) -> int:
    """Run `eventd tail`; return the exit status (0 after Ctrl-C or a closed pipe)."""
    try:
        asyncio.run(tail(options, sys.stdout.buffer, sys.stderr))
    except KeyboardInterrupt:
        return 0
    except OutputClosed:
        # Python would flush stdout again at exit and complain: point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (Unauthorized, Forbidden) as exc:
        # Trying again would send the same token: say what to change, once, and stop.
        print(f"eventd tail: {refusal(exc, options.token_source)}", file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"eventd tail: {refused(exc, options.token_source)}", file=sys.stderr)
        return 2
    except FeedError as exc:
        print(f"eventd tail: the daemon refused the subscription: {exc}", file=sys.stderr)
        return 1
    return 0


def refusal(exc: Unauthorized | Forbidden, source: str | None) -> str:
    """Return the line that says why the daemon refused the tail's token, or its lack of one."""
    code = "unauthorized" if isinstance(exc, Unauthorized) else "forbidden"
    if source is None:
        return (
            f"the daemon needs a token with the read scope ({code}): "
            f"set {TOKEN_VARIABLE} or use --token-file PATH"
        )
    if isinstance(exc, Unauthorized):
        return f"the daemon refused the token of {source} ({code})"
    return f"the token of {source} lacks the read scope the feed needs ({code})"


def refused(exc: Refused, source: str | None) -> str:
    """Return the line that says why the daemon refused the tail's request as such."""
    line = f"{exc}; trying again would not help"
    if exc.status == 403:  # the daemon's Host and Origin checks answer 403
        return f"{line}: is the URL's host one the daemon serves (http.allowed_hosts)?"
    if exc.status in (400, 431) and source is not None:
        return f"{line}: is the token of {source} a token?"
    return line
