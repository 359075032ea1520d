"""Read and check the options of `eventd tail`."""

from __future__ import annotations

import argparse
import os
import stat
import sys
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventd.client import bearer
from eventd.config import Config

CHANNELS = ("events", "stats", "reminders")
# Channels served by one position-ordered feed subscription, which `--since` resumes.
FEED_CHANNELS = ("events", "reminders")
MAX_POSITION = 2**63 - 1
TOKEN_VARIABLE = "EVENTD_TOKEN"  # noqa: S105 - the variable's name, not a secret
# The longest token taken: eventd's are 43 characters, and a header has room for 8 KiB.
MAX_TOKEN_CHARS = 4096


class UsageError(ValueError):
    """An option that cannot be honoured; `option` names it."""

    def __init__(self, option: str, reason: str) -> None:
        super().__init__(f"{option}: {reason}")
        self.option = option


@dataclass(frozen=True, slots=True)
class TailOptions:
    url: str  # http(s)://host:port, without a trailing slash
    types: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    channels: tuple[str, ...] = ("events",)
    since: int | None = None
    json: bool = False
    # The secret: never shown, not even in the options' repr.
    token: str | None = field(default=None, repr=False)
    token_source: str | None = None  # where it came from, for messages: EVENTD_TOKEN, a file

    @property
    def feed_channels(self) -> list[str]:
        return [channel for channel in self.channels if channel in FEED_CHANNELS]


def make_options(
    url: str,
    *,
    types: Sequence[str] = (),
    keys: Sequence[str] = (),
    channels: Sequence[str] = (),
    since: int | None = None,
    json: bool = False,
    token: tuple[str, str] | None = None,
) -> TailOptions:
    """Return the options, or raise `UsageError` for a combination that cannot work.

    `token` is the secret and where it came from, as `read_token` returns them.
    """
    chosen = tuple(dict.fromkeys(channels or ["events"]))
    secret, source = token or (None, None)
    options = TailOptions(
        url,
        tuple(dict.fromkeys(types)),
        tuple(dict.fromkeys(keys)),
        chosen,
        since,
        json,
        secret,
        source,
    )
    if not options.feed_channels:
        if since is not None:
            raise UsageError("--since", "replays the events or reminders channel; add one")
        if keys:
            # The daemon keeps statistics per type only.
            raise UsageError("--key", "the stats channel has no keys; add events or reminders")
    return options


def parse_url(text: str) -> str:
    """Return the daemon's base URL (http or https) from an http(s) or ws(s) URL."""
    try:
        parts = urllib.parse.urlsplit(text.strip())
        parts.port  # noqa: B018 - parses the port, raising ValueError when it is invalid
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a URL: {text!r} ({exc})") from None
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    if scheme not in ("http", "https") or not parts.hostname:
        raise argparse.ArgumentTypeError(f"must be http://HOST:PORT, got {text!r}")
    if parts.query or parts.fragment:
        raise argparse.ArgumentTypeError(f"must have no query or fragment, got {text!r}")
    path = parts.path.rstrip("/").removesuffix("/ws")  # the daemon's /ws, if given
    return urllib.parse.urlunsplit((scheme, parts.netloc, path, "", ""))


def parse_names(text: str) -> list[str]:
    """Return the names of a comma-separated list, refusing empty ones."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"an empty name in {text!r}")
    return names


def parse_channels(text: str) -> list[str]:
    """Return the channels of a comma-separated list."""
    names = parse_names(text)
    for name in names:
        if name not in CHANNELS:
            raise argparse.ArgumentTypeError(
                f"unknown channel {name!r} (choose from {', '.join(CHANNELS)})"
            )
    return names


def parse_since(text: str) -> int:
    """Return a feed position: an integer from 0 to 2^63-1."""
    if not text.isascii() or not text.isdigit() or int(text) > MAX_POSITION:
        raise argparse.ArgumentTypeError(
            f"must be a feed position (0 to {MAX_POSITION}), got {text!r}"
        )
    return int(text)


def default_url(config: Config) -> str:
    """Return the URL of the daemon that `config` describes, as seen from this machine."""
    host, port = config.server.host, config.server.port
    if port == 0:
        raise UsageError("--url", "the configuration's server.port is 0 (any free port)")
    # A daemon listening on every interface answers on loopback.
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104 - a match
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def read_token(
    env: Mapping[str, str], token_file: Path | None, warn: Callable[[str], object] | None = None
) -> tuple[str, str] | None:
    """Return the token and where it came from: the first line of `token_file`, else the
    `EVENTD_TOKEN` variable (unset or empty: no token).

    Never from the command line, where every local user can read it (`ps`). A token file
    other users may open is taken, with a line to `warn` (stderr).
    """
    if token_file is None:
        secret = env.get(TOKEN_VARIABLE, "").strip()
        return _checked(secret, TOKEN_VARIABLE, TOKEN_VARIABLE) if secret else None
    try:
        with token_file.open(encoding="utf-8") as file:
            mode = os.fstat(file.fileno()).st_mode
            # Bounded: `--token-file /dev/zero` must not fill the memory.
            line = file.readline(MAX_TOKEN_CHARS + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError("--token-file", f"cannot read {token_file}: {reason}") from None
    except UnicodeDecodeError:  # its message would quote a byte of the file
        raise UsageError("--token-file", f"{token_file} is not UTF-8 text") from None
    if len(line.rstrip("\r\n")) > MAX_TOKEN_CHARS:
        raise UsageError(
            "--token-file", f"the first line of {token_file} is over {MAX_TOKEN_CHARS} characters"
        )
    secret = line.strip()
    if not secret:
        raise UsageError("--token-file", f"the first line of {token_file} is empty")
    if stat.S_ISREG(mode) and mode & 0o077:
        (warn or _to_stderr)(
            f"eventd tail: warning: other users may open {token_file} "
            f"(mode {stat.S_IMODE(mode):03o}); chmod 600 {token_file}"
        )
    return _checked(secret, "--token-file", f"--token-file {token_file}")


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


def _checked(secret: str, option: str, source: str) -> tuple[str, str]:
    if len(secret) > MAX_TOKEN_CHARS:
        raise UsageError(option, f"a token is at most {MAX_TOKEN_CHARS} characters")
    try:
        bearer(secret)
    except ValueError as exc:  # names no character of the secret
        raise UsageError(option, str(exc)) from None
    return secret, source


class RefuseToken(argparse.Action):
    """Refuse `--token SECRET`: the command line is visible to every local user (`ps`)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        # parser.error prints no value: the secret is not repeated on stderr.
        parser.error(
            "--token: a secret on the command line is visible to every local user (ps); "
            f"set {TOKEN_VARIABLE} or use --token-file PATH"
        )
