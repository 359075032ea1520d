"""What a request may do: the grant a token (or no token) gives, protected mode, and the
gate the `auth` feature publishes for the WebSocket handler, which authenticates itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aiohttp import hdrs, web

from eventd.config import SCOPES, Config, parse_scopes, read_tokens_file
from eventd.config.tokens import TokenConfig
from eventd.origins import is_loopback


@dataclass(frozen=True, slots=True)
class Grant:
    """The scopes of a token, by name (None: a request without a token)."""

    name: str | None
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """Tell whether this grant holds `scope`."""
        return scope in self.scopes


EVERY_SCOPE = frozenset(SCOPES)


class Gate(Protocol):
    """Tells what a secret grants; the `auth` feature provides it under `GATE`."""

    @property
    def anonymous(self) -> Grant:
        """Return the grant of a request without a token."""

    @property
    def handshake_timeout(self) -> float:
        """Return the seconds a WebSocket without `read` has to authenticate."""

    def check(self, secret: str) -> Grant | None:
        """Return the grant of `secret`, or None if no token has it."""


_BEARER = "bearer "
GATE: web.AppKey[Gate] = web.AppKey("gate")
# The grant the HTTP middleware found for a request: None when its Authorization was bad.
_GRANT: web.RequestKey[Grant | None] = web.RequestKey("grant")


def set_grant(request: web.Request, grant: Grant | None) -> None:
    """Record what the request's credentials grant (None: they were bad)."""
    request[_GRANT] = grant


def request_grant(request: web.Request) -> Grant | None:
    """Return the grant recorded for the request, the anonymous one if none was."""
    if _GRANT in request:
        return request[_GRANT]
    gate = request.app.get(GATE)
    return Grant(None, EVERY_SCOPE) if gate is None else gate.anonymous


_CREDENTIALS: web.RequestKey[Grant | None] = web.RequestKey("credentials")


def credentials(request: web.Request) -> Grant | None:
    """Return what the request's `Authorization` grants; None for a bad or unknown one.

    Read once per request: the rate limit and the scope check both ask, and a token's check
    hashes the secret.
    """
    if _CREDENTIALS not in request:
        request[_CREDENTIALS] = _read_credentials(request)
    return request[_CREDENTIALS]


def _read_credentials(request: web.Request) -> Grant | None:
    gate = request.app[GATE]
    values = request.headers.getall(hdrs.AUTHORIZATION, [])
    if not values:
        return gate.anonymous
    if len(values) > 1 or values[0][: len(_BEARER)].lower() != _BEARER:
        return None
    return gate.check(values[0][len(_BEARER) :].strip())


def token_name(request: web.BaseRequest) -> str | None:
    """Return the name of the token the request was granted by, if one was (for the log)."""
    # The grant a handler was let through with, else the credentials found: a 403 names the
    # token that lacked the scope. A bad or missing token has no name.
    for key in (_GRANT, _CREDENTIALS):
        grant = request.get(key)
        if grant is not None and grant.name is not None:
            return str(grant.name)
    return None


def all_tokens(config: Config) -> tuple[TokenConfig, ...]:
    """Return the tokens of the configuration and of its tokens file."""
    return config.auth.tokens + read_tokens_file(config.auth.tokens_file)


def anonymous_scopes(config: Config) -> frozenset[str] | None:
    """Return the scopes of requests without a token; None if the daemon must not start.

    Protected mode, as Redis has it: with no token and no scope granted explicitly, a
    loopback bind serves everyone on the machine, and any other bind is refused.
    """
    granted = parse_scopes(config.auth.anonymous)
    if granted or all_tokens(config):
        return granted
    return EVERY_SCOPE if is_loopback(config.server.host) else None


def protected_mode_refusal(config: Config) -> str | None:
    """Return the one line that explains why the daemon refuses to start, if it does."""
    if anonymous_scopes(config) is not None:
        return None
    return (
        f"refusing to listen on {config.server.host} without a token (protected mode): "
        "anyone who reaches it could read, write and clear the store; add [[auth.tokens]] "
        "(eventd token new NAME --scopes read,write) or grant auth.anonymous scopes explicitly"
    )
