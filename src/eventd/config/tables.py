"""The settings: one frozen dataclass per section, each setting declared once, here, with its
default, help text and constraints. `default.toml` beside this module documents them all (a
test keeps the two in step); `eventd config --default` prints it.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eventd.config.rates import parse_rate
from eventd.config.tokens import TokenConfig, parse_scopes, parse_tokens, read_tokens_file
from eventd.fields import PathError, parse_path
from eventd.origins import parse_hosts, parse_origins
from eventd.times import TimeError, parse_duration, resolve_timezone

# Bounds of durations and counts: far above any useful value, and below the sizes that make
# the scheduler, deques or store commands overflow.
DAY = 86_400.0
WEEK = 7 * DAY
MAX_COUNT = 10**9
MAX_REMIND_OFFSET = 366 * 86_400  # seconds: the longest reminder offset


def setting(
    default: Any,
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] | None = None,
    check: Callable[[Any], object] | None = None,
    comma_list: bool = False,
    parse: Callable[[Any], Any] | None = None,
    env: bool = True,
) -> Any:
    """Declare a setting with its default, help text and constraints.

    A `comma_list` string setting also accepts a TOML list of strings, joined with commas.
    A `parse` setting takes any TOML value and is given what `parse` returns (or the
    `ValueError` it raises); an `env=False` setting has no environment variable.
    """
    meta = {"help": help, "minimum": minimum, "maximum": maximum, "choices": choices}
    extra = {"check": check, "comma_list": comma_list, "parse": parse, "env": env}
    return field(default=default, metadata=meta | extra)


def _check_timezone(name: str) -> None:
    try:
        resolve_timezone(name)
    except TimeError as exc:
        raise ValueError(str(exc)) from exc


def _check_host(host: str) -> None:
    # An empty host would bind every interface; that must be asked for by name.
    if not host.strip():
        raise ValueError("must not be empty (give 0.0.0.0 or :: to listen on every interface)")


@dataclass(frozen=True)
class ServerConfig:
    host: str = setting(
        "127.0.0.1",
        "Address to listen on (0.0.0.0 or :: for every interface; never empty).",
        check=_check_host,
    )
    port: int = setting(
        8080, "TCP port to listen on (0 picks a free one).", minimum=0, maximum=65535
    )
    shutdown_timeout: float = setting(
        10.0, "Seconds to finish open requests and drain the store on stop.", minimum=0, maximum=DAY
    )
    header_timeout: float = setting(
        10.0,
        "Seconds a connection may go without a complete request header, counted from its "
        "start or its previous answer (also the idle keep-alive timeout).",
        minimum=0.1,
        maximum=DAY,
    )
    body_timeout: float = setting(
        20.0,
        "Seconds a request body may take, plus one for every `body_min_rate` bytes "
        "received; past it the request is answered 408 and the connection closed.",
        minimum=0.1,
        maximum=DAY,
    )
    body_min_rate: int = setting(
        500,
        "Bytes per second that extend `body_timeout` (0: a fixed deadline).",
        minimum=0,
        maximum=MAX_COUNT,
    )


def _check_namespace(name: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name):
        raise ValueError("must be 1-64 letters, digits, '_', '.' or '-'")


def _split_url(url: str, schemes: tuple[str, ...]) -> urllib.parse.SplitResult:
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 -- parses the port, raising ValueError when it is invalid
    except ValueError as exc:
        raise ValueError(f"not a valid URL: {exc}") from exc
    if parts.scheme not in schemes:
        raise ValueError(f"must start with {' or '.join(s + '://' for s in schemes)}")
    return parts


def _check_redis_url(url: str) -> None:
    parts = _split_url(url, ("redis", "rediss", "unix"))
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError("unix:// must give a socket path, e.g. unix:///run/redis.sock")
    elif parts.path.strip("/") and not parts.path.strip("/").isdigit():
        raise ValueError(f"the path must be a database number, got {parts.path!r}")


def _check_mongo_url(url: str) -> None:
    # A light check that keeps the driver out of this module; the driver checks the rest.
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("mongodb", "mongodb+srv"):
        raise ValueError("must start with mongodb:// or mongodb+srv://")
    # The host list ends at the first '/' or '?'; an '@' before it ends the credentials.
    hosts = re.split(r"[/?]", rest, maxsplit=1)[0].rpartition("@")[2]
    if not all(hosts.split(",")):
        raise ValueError("must name at least one host, e.g. mongodb://127.0.0.1:27017")


@dataclass(frozen=True)
class RedisConfig:
    url: str = setting(
        "redis://127.0.0.1:6379/0",
        "Redis server URL (redis://, rediss:// or unix://); checked even when another "
        "engine is chosen.",
        check=_check_redis_url,
    )
    namespace: str = setting(
        "eventd",
        "Prefix of every key; all keys share the hash tag {namespace} (one Cluster slot).",
        check=_check_namespace,
    )
    timeout: float = setting(
        2.0,
        "Seconds Redis may take to answer one round trip of a request before 503.",
        minimum=0.01,
        maximum=DAY,
    )


@dataclass(frozen=True)
class MongoConfig:
    url: str = setting(
        "mongodb://127.0.0.1:27017",
        "MongoDB connection string (mongodb:// or mongodb+srv://); checked even when "
        "another engine is chosen.",
        check=_check_mongo_url,
    )
    database: str = setting("eventd", "Database name.", check=_check_namespace)
    collection: str = setting("events", "Collection of events.", check=_check_namespace)
    timeout: float = setting(
        2.0,
        "Seconds MongoDB may take to answer one round trip of a request before 503.",
        minimum=0.01,
        maximum=DAY,
    )


@dataclass(frozen=True)
class EngineConfig:
    name: str = setting(
        "memory", "Storage engine (env: EVENTD_ENGINE).", choices=("memory", "redis", "mongo")
    )
    redis: RedisConfig = field(default_factory=RedisConfig)
    mongo: MongoConfig = field(default_factory=MongoConfig)


@dataclass(frozen=True)
class StoreConfig:
    queue_size: int = setting(
        10_000, "Commands the store worker queues.", minimum=1, maximum=MAX_COUNT
    )
    batch_limit: int = setting(
        256, "Commands the worker takes in one batch.", minimum=1, maximum=MAX_COUNT
    )
    enqueue_timeout: float = setting(
        2.0, "Seconds a request waits for room in a full queue before 503.", minimum=0, maximum=DAY
    )
    retry_after: int = setting(
        1, "Retry-After seconds sent with 503 answers.", minimum=0, maximum=int(DAY)
    )


@dataclass(frozen=True)
class FeedConfig:
    history: int = setting(
        100_000,
        "Changes the feed keeps for subscribers that resume with `since`.",
        minimum=1,
        maximum=MAX_COUNT,
    )
    send_queue: int = setting(
        1000,
        "Messages queued per WebSocket before a slow subscriber is closed.",
        minimum=64,
        maximum=MAX_COUNT,  # the hub hands out changes in slices of 64
    )
    heartbeat: float = setting(20.0, "Seconds between WebSocket pings.", minimum=1, maximum=DAY)
    max_subscriptions_per_socket: int = setting(
        100,
        "Subscriptions one WebSocket may hold; one more is answered with an `error`.",
        minimum=1,
        maximum=MAX_COUNT,
    )


def _check_durations(text: str) -> None:
    try:
        parse_durations(text)
    except TimeError as exc:
        raise ValueError(str(exc)) from exc


def _check_retention(text: str) -> None:
    try:
        parse_retention(text)
    except TimeError as exc:
        raise ValueError(str(exc)) from exc


def parse_durations(text: str) -> tuple[int, ...]:
    """Parse "5m,15m,1h" into sorted, distinct seconds."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise TimeError("give at least one duration, e.g. '5m,1h'")
    return tuple(sorted({parse_duration(part) for part in parts}))


def parse_retention(text: str) -> dict[str | None, int]:
    """Parse "30d" or "30d,debug=1d,metric=7d" into {type or None: seconds}."""
    rules: dict[str | None, int] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        type, _, age = part.rpartition("=")
        rules[type or None] = parse_duration(age)
    return rules


@dataclass(frozen=True)
class StatsConfig:
    windows: str = setting(
        "5m,15m,1h,24h", "Rolling windows, comma-separated durations.", check=_check_durations
    )
    push_interval: float = setting(
        1.0,
        "Seconds between stats pushes to WebSocket subscribers (the stats-tick job).",
        minimum=0.1,
        maximum=DAY,
    )
    cleanup_interval: float = setting(
        60.0,
        "Seconds between window-cleanup runs (drop state older than the longest window).",
        minimum=1,
        maximum=WEEK,
    )
    catch_up_timeout: float = setting(
        5.0,
        "Seconds an answer from the windows waits for them to hold this daemon's last "
        "acknowledged write (then 503).",
        minimum=0.01,
        maximum=DAY,
    )


@dataclass(frozen=True)
class RetentionConfig:
    max_age: str = setting(
        "",
        "Delete events older than this: '' keeps everything; '30d' for all types; "
        "'30d,debug=1d' adds per-type ages; 'debug=1d' limits only that type.",
        check=_check_retention,
    )
    interval: float = setting(3600.0, "Seconds between retention runs.", minimum=1, maximum=WEEK)


def _check_offsets(text: str) -> None:
    try:
        parse_offsets(text)
    except TimeError as exc:
        raise ValueError(str(exc)) from exc


def parse_offsets(text: str) -> tuple[int, ...]:
    """Parse "5m,1h" (or "") into distinct reminder offsets in seconds, largest first."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    offsets = {parse_duration(part) for part in parts}
    if 0 in offsets:
        raise TimeError("a reminder offset must be longer than 0 seconds")
    if any(offset > MAX_REMIND_OFFSET for offset in offsets):
        raise TimeError("a reminder offset must be at most 366d")
    return tuple(sorted(offsets, reverse=True))


def _check_zone_or_empty(name: str) -> None:
    if name:
        _check_timezone(name)


@dataclass(frozen=True)
class RemindersConfig:
    default_offsets: str = setting(
        "5m",
        "Reminder offsets before an event's timestamp for events whose `remind` is null: "
        "a list or a comma-separated string of durations; empty sends none by default.",
        check=_check_offsets,
        comma_list=True,
    )
    timezone: str = setting(
        "",
        "Zone of the time in a reminder's message text: '' follows time.naive_timezone; "
        "'local', 'UTC' or an IANA name such as 'Europe/Paris'.",
        check=_check_zone_or_empty,
    )
    late_grace: float = setting(
        3600.0,
        "Seconds after its due time that a reminder which fell due while no daemon ran may "
        "still be sent (marked late); later, or once its event started, it is recorded as "
        "missed.",
        minimum=0,
        maximum=WEEK,
    )


def parse_paths(text: str) -> tuple[str, ...]:
    """Read a comma-separated list of field paths; raise ValueError naming a bad one."""
    paths = []
    for given in text.split(","):
        name = given.strip()
        if not name:
            continue
        try:
            paths.append(parse_path(name).text)
        except PathError as exc:
            raise ValueError(f"{name!r} {exc}") from None
    return tuple(paths)


@dataclass(frozen=True)
class TimelinesConfig:
    indexed_fields: str = setting(
        "status",
        "Field paths (see `GET /timelines`) indexed on every engine, so that searching "
        "their values, their timelines and their transitions reads only the events that "
        "have them: a list or a comma-separated string; others are answered by a scan.",
        check=parse_paths,
        comma_list=True,
    )


@dataclass(frozen=True)
class TimeConfig:
    naive_timezone: str = setting(
        "local",
        "Zone for timestamps given without an offset: 'local' (the machine's zone), "
        "'UTC' or an IANA name such as 'Europe/Paris'.",
        check=_check_timezone,
    )


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = setting(
        64 << 20, "Largest request body, in bytes.", minimum=1024, maximum=1 << 40
    )
    max_batch: int = setting(100_000, "Most events in one POST.", minimum=1, maximum=MAX_COUNT)
    default_page_size: int = setting(
        100, "Events per page when no limit is given.", minimum=1, maximum=MAX_COUNT
    )
    max_page_size: int = setting(
        1000, "Largest limit a listing accepts.", minimum=1, maximum=MAX_COUNT
    )
    max_type_length: int = setting(
        128, "Longest `type`, in characters.", minimum=1, maximum=MAX_COUNT
    )
    max_key_length: int = setting(
        256, "Longest `key`, in characters.", minimum=1, maximum=MAX_COUNT
    )
    max_text_length: int = setting(
        4096, "Longest `title` or `description`.", minimum=1, maximum=MAX_COUNT
    )
    max_data_bytes: int = setting(
        65536, "Largest `data`, as compact JSON bytes.", minimum=2, maximum=MAX_COUNT
    )
    # Bounded: JSON decoders recurse once per level, up to the interpreter's recursion limit.
    max_data_depth: int = setting(
        32, "Deepest nesting of arrays/objects in `data` (at most 256).", minimum=1, maximum=256
    )
    rate: str = setting(
        "",
        "Requests each token (or, without one, each client address) may make: 'N/PERIOD' "
        "such as '100/s', '1/5s' or '600/m'; more get 429 with Retry-After. '' is no limit. "
        "/health, /metrics and the dashboard's files are not limited.",
        check=parse_rate,
    )
    burst: int = setting(
        0,
        "Requests a token or address may make at once before `rate` paces it (0: the N of `rate`).",
        minimum=0,
        maximum=MAX_COUNT,
    )
    ws_rate: str = setting(
        "",
        "Messages each WebSocket may send, as `rate`; one more is answered with a "
        "`rate_limited` error. '' is no limit.",
        check=parse_rate,
    )
    ws_burst: int = setting(
        0,
        "Messages a WebSocket may send at once (0: the N of `ws_rate`).",
        minimum=0,
        maximum=MAX_COUNT,
    )
    ws_strikes: int = setting(
        10,
        "Messages in a row refused by `ws_rate` after which the socket is closed with 4029.",
        minimum=1,
        maximum=MAX_COUNT,
    )
    rate_clients: int = setting(
        100_000,
        "Token and address buckets kept at most; idle ones are dropped first, then the "
        "least recently used.",
        minimum=1,
        maximum=MAX_COUNT,
    )


@dataclass(frozen=True)
class LogConfig:
    level: str = setting(
        "info", "Log level.", choices=("debug", "info", "warning", "error", "critical")
    )
    format: str = setting(
        "text",
        "How each line on stderr is written: 'text' (time, level, logger, message) or 'json' "
        "(one object a line: time, level, logger, message, and exception when there is one). "
        "Under journald, lines of either form leave the time to the journal.",
        choices=("text", "json"),
    )
    access: bool = setting(
        False,
        "Log one line per answered request (logger eventd.access): client address, method, "
        "path without its query or parameters, status, bytes sent, duration and the token's "
        "name.",
    )
    slow_callback: float = setting(
        0.1,
        "Seconds the event loop may be held by one step before a WARNING names the task "
        "that held it (every socket waits meanwhile).",
        minimum=0.001,
        maximum=DAY,
    )


@dataclass(frozen=True)
class HttpConfig:
    cors_origins: str = setting(
        "",
        "Web origins (scheme://host[:port]) whose pages may call the API and open /ws, "
        "with CORS answers: a list or a comma-separated string. A request with any other "
        "Origin than the daemon's own is refused with 403; requests without Origin pass.",
        check=parse_origins,
        comma_list=True,
    )
    allowed_hosts: str = setting(
        "",
        "Host names or addresses (no port) besides loopback ones that requests may name in "
        "their Host header, for a daemon reached through a proxy or by name: a list or a "
        "comma-separated string. On a loopback bind, or once any is listed, a request for "
        "any other host is refused with 403 (this stops DNS rebinding).",
        check=parse_hosts,
        comma_list=True,
    )


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = setting(
        True,
        "Serve Prometheus metrics at /metrics and count requests for them (false: neither, "
        "and requests skip the counting).",
    )


@dataclass(frozen=True)
class AuthConfig:
    anonymous: str = setting(
        "",
        "Scopes (read, write, admin, metrics) of requests without a token: a list or a "
        "comma-separated string. Empty with no token configured: every scope on a loopback "
        "bind, and no start on any other.",
        check=parse_scopes,
        comma_list=True,
    )
    tokens: tuple[TokenConfig, ...] = setting(
        (),
        "Tokens, as [[auth.tokens]] tables of name, sha256 (hex SHA-256 of the secret) and "
        "scopes; `eventd token new NAME --scopes read,write` makes one.",
        parse=parse_tokens,
        env=False,
    )
    tokens_file: str = setting(
        "",
        "A TOML file of its own holding more [[auth.tokens]] tables (e.g. a systemd "
        "credential); '' for none.",
        check=read_tokens_file,
    )
    handshake_timeout: float = setting(
        5.0,
        "Seconds a WebSocket without the read scope has to send its `auth` message.",
        minimum=0.01,
        maximum=DAY,
    )


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    feed: FeedConfig = field(default_factory=FeedConfig)
    stats: StatsConfig = field(default_factory=StatsConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)
    reminders: RemindersConfig = field(default_factory=RemindersConfig)
    timelines: TimelinesConfig = field(default_factory=TimelinesConfig)
    time: TimeConfig = field(default_factory=TimeConfig)
    limits: Limits = field(default_factory=Limits)
    log: LogConfig = field(default_factory=LogConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
