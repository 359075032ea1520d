"""The `eventd` command: serve, check-config."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from eventd import __version__
from eventd.app import create_app
from eventd.config import Config, ConfigError, load

log = logging.getLogger("eventd")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    overrides = {}
    if args.command == "serve":
        overrides = {"server.host": args.host, "server.port": args.port}
    try:
        config = load(args.config, env=os.environ, overrides=overrides)
    except ConfigError as exc:
        print(f"eventd: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "check-config":
        print(f"{args.config or 'defaults'}: ok (engine {config.engine.name})")
        return 0
    return serve(config)


def serve(config: Config) -> int:
    """Run the daemon until SIGTERM or SIGINT; return 0 after a graceful stop."""
    logging.basicConfig(
        level=config.log.level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    log.info("eventd %s starting: engine %s", __version__, config.engine.name)
    web.run_app(
        create_app(config),
        host=config.server.host,
        port=config.server.port,
        shutdown_timeout=config.server.shutdown_timeout,
        print=lambda text: log.info("%s", text.strip()),
        access_log=None,
    )
    log.info("eventd stopped")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eventd", description="The eventd daemon.")
    parser.add_argument("--version", action="version", version=f"eventd {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run the daemon")
    serve_cmd.add_argument("--config", type=Path, help="TOML configuration file")
    serve_cmd.add_argument("--host", help="address to listen on (overrides server.host)")
    serve_cmd.add_argument("--port", type=int, help="port to listen on (overrides server.port)")
    check = commands.add_parser("check-config", help="validate a configuration file and exit")
    check.add_argument("config", type=Path, help="TOML configuration file")
    return parser
