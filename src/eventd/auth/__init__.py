"""Access: bearer tokens with scopes, protected mode, and the scope of every route.

The HTTP middleware (`middleware.check_scope`) answers 401/403 before a handler runs; the
WebSocket handler authenticates its socket itself through the gate published under
`access.GATE`.
"""

from __future__ import annotations

from aiohttp import web

from eventd.access import GATE, all_tokens, anonymous_scopes
from eventd.auth.gate import Tokens
from eventd.auth.middleware import check_scope
from eventd.auth.scopes import undeclared
from eventd.config import Config, TokenConfig
from eventd.keys import CONFIG
from eventd.reloading import add_reloader

__all__ = ["check_scope", "setup"]


def setup(app: web.Application) -> None:
    """Publish the gate, and refuse to start while a route has no declared scope."""
    config = app[CONFIG]
    # A bind that protected mode refuses is stopped by `eventd serve`; an app made for it
    # anyway (tests) serves nobody without a token.
    gate = Tokens(*_gate_settings(config))
    app[GATE] = gate
    # The gate is updated in place: aiohttp deprecates replacing app state once it runs.
    add_reloader(app, ("auth",), lambda new: gate.configure(*_gate_settings(new)), name="tokens")
    app.on_startup.append(_check_routes)


def _gate_settings(config: Config) -> tuple[tuple[TokenConfig, ...], frozenset[str], float]:
    """Return the tokens (the tokens file read again), anonymous scopes and handshake time."""
    anonymous = anonymous_scopes(config) or frozenset()
    return all_tokens(config), anonymous, config.auth.handshake_timeout


async def _check_routes(app: web.Application) -> None:
    missing = undeclared(app.router)
    if missing:
        raise RuntimeError(f"routes without a scope in eventd/auth/scopes.py: {missing}")
