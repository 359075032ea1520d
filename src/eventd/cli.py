"""The `eventd` command: serve, seed, check-config, token new."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiohttp import web

from eventd import __version__
from eventd.access import protected_mode_refusal
from eventd.app import create_app
from eventd.config import Config, ConfigError, load, new_token, parse_scopes
from eventd.config.tokens import NAME_RULE, valid_name
from eventd.errors import Unavailable
from eventd.http.client_faults import quiet_client_faults
from eventd.loopguard import install as guard_loop
from eventd.seed import seed
from eventd.store.base import StorageError
from eventd.times import TimeError, parse_duration

log = logging.getLogger("eventd")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "token":
        return _new_token(args.name, args.scopes)
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
    if args.command == "check-config":
        print(f"{args.config or 'defaults'}: ok (engine {config.engine.name})")
        return 0
    if args.command == "seed":
        return _seed(config, args.count, args.spread)
    return serve(config, clear=args.clear)


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


def serve(config: Config, *, clear: bool = False) -> int:
    """Run the daemon until SIGTERM or SIGINT; return 0 after a graceful stop."""
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
    logging.basicConfig(
        level=config.log.level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # APScheduler logs every run at INFO: once a second for stats-tick is noise.
    logging.getLogger("apscheduler").setLevel(max(logging.WARNING, log.getEffectiveLevel()))
    quiet_client_faults()
    log.info("eventd %s starting: engine %s", __version__, config.engine.name)
    loop = asyncio.new_event_loop()
    loop.add_signal_handler(signal.SIGHUP, _on_sighup)
    guard_loop(loop)
    web.run_app(
        create_app(config, clear=clear),
        sock=sockets,
        loop=loop,
        shutdown_timeout=config.server.shutdown_timeout,
        print=lambda text: log.info("%s", text.strip()),
        access_log=None,
    )
    log.info("eventd stopped")
    return 0


def _on_sighup() -> None:
    # SIGHUP's default action ends the process without a drain; nothing reloads yet.
    log.warning("SIGHUP received and ignored: the configuration is read only at start")


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eventd", description="The eventd daemon.")
    parser.add_argument("--version", action="version", version=f"eventd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
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
    return parser
