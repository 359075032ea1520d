"""The `eventd` command: serve, seed, check-config, tail, token new, config, systemd-unit."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from aiohttp import web

from eventd import __version__, logs
from eventd.access import protected_mode_refusal
from eventd.app import create_app
from eventd.config import Config, ConfigError, load, new_token, parse_scopes
from eventd.config.default import default_toml
from eventd.config.tokens import NAME_RULE, valid_name
from eventd.errors import Unavailable
from eventd.heap import freeze_startup
from eventd.http.client_faults import quiet_client_faults
from eventd.loopguard import install as guard_loop
from eventd.reloading import add_reloader
from eventd.seed import seed
from eventd.store import missing_driver
from eventd.store.base import StorageError
from eventd.systemd.notify import Notifier, watchdog_interval
from eventd.systemd.service import Service
from eventd.systemd.unit import installed_root, unit_text
from eventd.tail import options as tail_options
from eventd.tail.follow import run as run_tail
from eventd.times import TimeError, parse_duration

log = logging.getLogger("eventd")

# The commands that print a file shipped in the package (the unit for this installation).
SHIPPED_FILES: dict[str, Callable[[], str]] = {
    "config": default_toml,
    "systemd-unit": lambda: unit_text(installed_root()),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "token":
        return _new_token(args.name, args.scopes)
    if args.command == "tail":
        return _tail(args)
    if args.command in SHIPPED_FILES:
        return _print_out(SHIPPED_FILES[args.command]())
    overrides: dict[str, Any] = {}
    if args.command in ("serve", "seed"):
        overrides["engine.name"] = args.engine
    if args.command == "serve":
        overrides |= {"server.host": args.host, "server.port": args.port}
    try:
        config = load(args.config, env=os.environ, overrides=overrides)
    except ConfigError as exc:
        print(f"eventd: configuration error: {exc}", file=sys.stderr)
        return 2
    problem = missing_driver(config.engine.name)
    if problem is not None:
        print(f"eventd: {problem}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        print(f"{args.config or 'defaults'}: ok (engine {config.engine.name})")
        return 0
    if args.command == "seed":
        return _seed(config, args.count, args.spread)
    return serve(
        config,
        clear=args.clear,
        reread=lambda: load(args.config, env=os.environ, overrides=overrides),
    )


def _print_out(text: str) -> int:
    """Write `text` to stdout; a reader gone is no error, any other failure one line."""
    if sys.stdout is None:  # started with stdout closed (`>&-`)
        print("eventd: no standard output to write to", file=sys.stderr)
        return 1
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        # Python flushes stdout again at exit, and would complain: what is left of it goes
        # to /dev/null instead (as `eventd tail | head` does).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        if isinstance(exc, BrokenPipeError):  # `| head`: the reader has what it wanted
            return 0
        print(f"eventd: cannot write to standard output: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _new_token(name: str, scopes_text: str) -> int:
    try:
        scopes = parse_scopes(scopes_text)
    except ValueError as exc:
        print(f"eventd: --scopes: {exc}", file=sys.stderr)
        return 2
    if not valid_name(name) or not scopes:
        problem = f"NAME {NAME_RULE}" if not valid_name(name) else "--scopes names no scope"
        print(f"eventd: {problem}", file=sys.stderr)
        return 2
    secret, table = new_token(name, scopes)
    print(f"secret (shown once, keep it; send it as Authorization: Bearer <secret>):\n{secret}\n")
    print("add to the configuration (or to auth.tokens_file):\n")
    print(table, end="")
    return 0


def _seed(config: Config, count: int, spread: str) -> int:
    try:
        spread_s = parse_duration(spread)
    except TimeError as exc:
        print(f"eventd: --spread: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(seed(config, count, spread_s))
    except (StorageError, Unavailable) as exc:
        print(f"\neventd: seeding failed: {exc}", file=sys.stderr)
        return 1
    return 0


def _tail(args: argparse.Namespace) -> int:
    try:
        url = args.url or tail_options.default_url(load(args.config, env=os.environ))
        token = tail_options.read_token(os.environ, args.token_file)
        options = tail_options.make_options(
            url,
            types=args.types or (),
            keys=args.keys or (),
            channels=args.channels or (),
            since=args.since,
            json=args.json,
            token=token,
        )
    except ConfigError as exc:
        print(f"eventd: configuration error: {exc}", file=sys.stderr)
        return 2
    except tail_options.UsageError as exc:
        print(f"eventd tail: {exc}", file=sys.stderr)
        return 2
    return run_tail(options)


def serve(
    config: Config, *, clear: bool = False, reread: Callable[[], Config] | None = None
) -> int:
    """Run the daemon until SIGTERM or SIGINT; return 0 after a graceful stop.

    SIGHUP applies `reread()` (by default: `config` again) to the running daemon.
    """
    refusal = protected_mode_refusal(config)
    if refusal is not None:
        print(f"eventd: {refusal}", file=sys.stderr)
        return 2
    # Bind before the store opens: a busy port must not cost a `--clear` its store.
    try:
        sockets = listen(config.server.host, config.server.port)
    except OSError as exc:
        print(f"eventd: {exc.strerror or exc}", file=sys.stderr)
        return 1
    daemon_log = logs.setup(config)
    quiet_client_faults()
    log.info("eventd %s starting: engine %s", __version__, config.engine.name)
    loop = asyncio.new_event_loop()
    guard_loop(loop)
    app = create_app(config, clear=clear)
    add_reloader(app, ("log",), daemon_log.configure, name="log")
    notifier = Notifier.from_environ()
    service = Service(
        app,
        config,
        reread or (lambda: config),
        notifier=notifier,
        watchdog=watchdog_interval() if notifier.enabled else None,
        where=", ".join(_address(sock) for sock in sockets),
    )
    service.install(loop)
    web.run_app(
        app,
        sock=sockets,
        loop=loop,
        shutdown_timeout=config.server.shutdown_timeout,
        # Called once every socket accepts, after the app (and its store) started.
        print=_started(service.running),
        access_log=logs.access_logger(),
        access_log_class=logs.AccessLog,
        handle_signals=False,  # the service handles them, to notify the manager first
    )
    log.info("eventd stopped")
    return 0


def _started(running: Callable[[str], None]) -> Callable[[str], None]:
    """Return `running`, called once start-up is done, after its objects are frozen."""

    def started(text: str) -> None:
        # The store is open and the projections rebuilt: what exists now lives as long as
        # the daemon, and full collections need not walk it again (see `heap`).
        freeze_startup()
        running(text)

    return started


def _address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if sock.family == socket.AF_INET6 else f"{host}:{port}"


def listen(host: str, port: int) -> list[socket.socket]:
    """Bind every address of `host` (all interfaces if empty) to `port`, as asyncio would."""
    try:
        infos = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise OSError(exc.errno, f"cannot resolve {host!r}: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            _bind(sock, address)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def _bind(sock: socket.socket, address: tuple[Any, ...]) -> None:
    # Like asyncio: restart while old connections linger in TIME_WAIT; IPv6 stays IPv6.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        host, port = address[:2]
        where = f"[{host}]:{port}" if sock.family == socket.AF_INET6 else f"{host}:{port}"
        raise OSError(exc.errno, f"cannot listen on {where}: {exc.strerror}") from None
    sock.setblocking(False)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return int(text)


class _CommandParser(argparse.ArgumentParser):
    """A parser whose errors are one line naming the option, as the configuration's are."""

    def parse_args(  # type: ignore[override] # the one form main() calls
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> argparse.Namespace:
        """Parse `args`; refuse unknown ones without repeating what they hold."""
        parsed, unknown = self.parse_known_args(args, namespace)
        if unknown:
            self.error(f"unrecognized arguments: {_unknown(unknown)}")
        return parsed

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def _unknown(arguments: list[str]) -> str:
    """Name the unknown options, not their values: `--tok=SECRET` may be a mistyped token."""
    names = [arg.partition("=")[0] + ("=..." if "=" in arg else "") for arg in arguments]
    options = [name for name in names if name.startswith("-")]
    values = len(names) - len(options)
    shown = " ".join(options)
    if values:
        counted = f"{values} value{'s' if values > 1 else ''}, not shown"
        shown = f"{shown} and {counted}" if shown else counted
    return shown


def _parser() -> argparse.ArgumentParser:
    parser = _CommandParser(prog="eventd", description="The eventd daemon.")
    parser.add_argument("--version", action="version", version=f"eventd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_CommandParser)
    serve_cmd = commands.add_parser("serve", help="run the daemon")
    serve_cmd.add_argument("--config", type=Path, help="TOML configuration file")
    serve_cmd.add_argument("--host", help="address to listen on (overrides server.host)")
    serve_cmd.add_argument("--port", type=int, help="port to listen on (overrides server.port)")
    serve_cmd.add_argument("--engine", help="storage engine (overrides engine.name)")
    serve_cmd.add_argument(
        "--clear", action="store_true", help="delete every stored event before serving"
    )
    seed_cmd = commands.add_parser("seed", help="fill the store with generated events")
    seed_cmd.add_argument("--config", type=Path, help="TOML configuration file")
    seed_cmd.add_argument("--engine", help="storage engine (overrides engine.name)")
    seed_cmd.add_argument("--count", type=_positive, required=True, help="events to generate")
    seed_cmd.add_argument(
        "--spread", default="30d", help="spread timestamps over this long before now (30d)"
    )
    token = commands.add_parser("token", help="manage access tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    new = token_commands.add_parser("new", help="print a new secret and its [[auth.tokens]] table")
    new.add_argument("name", help="the token's name, shown in logs")
    new.add_argument("--scopes", required=True, help="comma-separated: read, write, admin, metrics")
    check = commands.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("config", type=Path, help="TOML configuration file")
    tail = commands.add_parser(
        "tail",
        # `--tok=SECRET` is unknown, not taken for --token-file or named in an "ambiguous
        # option" error that repeats it.
        allow_abbrev=False,
        help="print the daemon's changes as they happen",
        description="Print the daemon's changes as they happen, one line each (time, "
        "position, operation, type, key, title, value), or NDJSON with --json. It "
        "reconnects by itself and resumes where it stopped: no change missed or repeated. "
        f"A daemon with tokens wants one with the read scope: set {tail_options.TOKEN_VARIABLE} "
        "or use --token-file. There is no --token option: a command line is visible to "
        "every local user (ps).",
    )
    _tail_arguments(tail)
    _shipped_file_commands(commands)
    return parser


def _shipped_file_commands(commands: argparse._SubParsersAction[Any]) -> None:
    config = commands.add_parser(
        "config",
        help="print the documented default configuration (--default)",
        description="Print the documented default configuration, every key with its default "
        "value and its help: eventd config --default > /etc/eventd/config.toml",
    )
    config.add_argument(
        "--default", action="store_true", required=True, help="the default configuration file"
    )
    commands.add_parser(
        "systemd-unit",
        help="print the systemd unit",
        description="Print the systemd unit for this eventd (as installed in "
        "/opt/eventd/.venv, or wherever it runs from) with its configuration in "
        "/etc/eventd/config.toml: "
        "eventd systemd-unit > /etc/systemd/system/eventd.service",
    )


def _tail_arguments(tail: argparse.ArgumentParser) -> None:
    names = tail_options.parse_names
    tail.add_argument(
        "--url",
        type=tail_options.parse_url,
        help="the daemon (default: server.host and server.port of the configuration, "
        "http://127.0.0.1:8080)",
    )
    tail.add_argument("--config", type=Path, help="TOML configuration file, for the default --url")
    for option, dest, what in (("--type", "types", "types"), ("--key", "keys", "timeline keys")):
        tail.add_argument(
            option,
            dest=dest,
            action="extend",
            type=names,
            metavar=f"{option[2:].upper()}[,...]",
            help=f"only events of these {what}; repeat or separate with commas",
        )
    tail.add_argument(
        "--channels",
        action="extend",
        type=tail_options.parse_channels,
        metavar="CHANNEL[,...]",
        help="any of events, stats, reminders (default: events)",
    )
    tail.add_argument(
        "--since",
        type=tail_options.parse_since,
        metavar="POSITION",
        help="first replay the changes after this feed position",
    )
    tail.add_argument(
        "--json", action="store_true", help="print each message as received, one JSON per line"
    )
    tail.add_argument(
        "--token-file",
        type=Path,
        metavar="PATH",
        help="read the token from the first line of PATH "
        f"(default: ${tail_options.TOKEN_VARIABLE})",
    )
    # Refused with a reason, rather than unknown (or taken as an abbreviated --token-file).
    tail.add_argument("--token", nargs="?", action=tail_options.RefuseToken, help=argparse.SUPPRESS)
