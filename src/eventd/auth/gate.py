"""The tokens, looked up by the SHA-256 of a secret in constant time."""

from __future__ import annotations

import hmac

from eventd.access import Grant
from eventd.config import TokenConfig
from eventd.config.tokens import raw_digest


class Tokens:
    """What each configured secret grants, and what no secret grants."""

    def __init__(
        self, tokens: tuple[TokenConfig, ...], anonymous: frozenset[str], handshake_timeout: float
    ) -> None:
        self._tokens: tuple[tuple[bytes, Grant], ...] = ()
        self._anonymous = Grant(None, frozenset())
        self._handshake_timeout = handshake_timeout
        self.configure(tokens, anonymous, handshake_timeout)

    def configure(
        self, tokens: tuple[TokenConfig, ...], anonymous: frozenset[str], handshake_timeout: float
    ) -> None:
        """Replace the tokens and what no token grants (a reload); requests from now on and
        WebSockets that authenticate from now on see them."""
        # The digests as bytes, made once: a request hashes its secret and compares, nothing
        # more (every request with a token pays this).
        self._tokens = tuple((bytes.fromhex(t.sha256), Grant(t.name, t.scopes)) for t in tokens)
        self._anonymous = Grant(None, anonymous)
        self._handshake_timeout = handshake_timeout

    @property
    def anonymous(self) -> Grant:
        """Return the grant of a request without a token."""
        return self._anonymous

    @property
    def handshake_timeout(self) -> float:
        """Return the seconds a WebSocket without `read` has to authenticate."""
        return self._handshake_timeout

    def check(self, secret: str) -> Grant | None:
        """Return the grant of `secret`, or None if no token has it."""
        given = raw_digest(secret)
        found = None
        # Every digest is compared, each in constant time: the answer's timing tells nothing.
        for sha256, grant in self._tokens:
            if hmac.compare_digest(given, sha256):
                found = grant
        return found
