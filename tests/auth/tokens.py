"""Tokens the auth tests configure: one per scope, each secret known to the tests."""

from __future__ import annotations

from typing import Any

from eventd.config import SCOPES, Config, digest
from tests.conftest import make_config

# scope -> the secret of a token that holds only that scope
SECRETS = {scope: f"secret-of-the-{scope}-token" for scope in SCOPES}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def token_tables() -> list[dict[str, Any]]:
    return [
        {"name": f"only-{scope}", "sha256": digest(secret), "scopes": [scope]}
        for scope, secret in SECRETS.items()
    ]


def locked_config(auth: dict[str, Any] | None = None, **sections: dict[str, Any]) -> Config:
    """Return a configuration with a token per scope and nothing for requests without one."""
    settings = {"tokens": token_tables(), "anonymous": []} | (auth or {})
    return make_config(auth=settings, **sections)
