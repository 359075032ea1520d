"""Access tokens as settings: `[[auth.tokens]]` tables, the scopes they grant, the file of
their own (`auth.tokens_file`), and the making of a new one.

Only the hex SHA-256 of a secret is ever stored; a secret is shown once, when it is made.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# read: every GET and WebSocket subscription; write: one event's changes and POST /event;
# admin: clearing the store and /debug/*; metrics: /metrics.
SCOPES = ("read", "write", "admin", "metrics")
_NAME = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
_KEYS = frozenset({"name", "sha256", "scopes"})


@dataclass(frozen=True, slots=True)
class TokenConfig:
    """One token: its name (for logs), the hex SHA-256 of its secret, its scopes."""

    name: str
    sha256: str
    scopes: frozenset[str]


def digest(secret: str) -> str:
    """Return the hex SHA-256 of a secret, as `sha256` stores it."""
    return raw_digest(secret).hex()


def raw_digest(secret: str) -> bytes:
    """Return the SHA-256 of a secret as bytes (what `bytes.fromhex` makes of `digest`)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


def parse_scopes(value: str | Iterable[Any]) -> frozenset[str]:
    """Read scopes from a comma-separated string or a list; raise `ValueError` naming one."""
    items = value.split(",") if isinstance(value, str) else list(value)
    scopes = set()
    for item in items:
        name = item.strip() if isinstance(item, str) else item
        if name == "":
            continue
        if name not in SCOPES:
            raise ValueError(f"{name!r} is not a scope; the scopes are {', '.join(SCOPES)}")
        scopes.add(name)
    return frozenset(scopes)


def parse_tokens(value: Any) -> tuple[TokenConfig, ...]:
    """Read a list of token tables; raise `ValueError` naming the table and its key."""
    if not isinstance(value, list | tuple):
        raise ValueError("expected [[auth.tokens]] tables (a list of tables)")
    tokens = tuple(_token(index, table) for index, table in enumerate(value))
    check_unique(tokens)
    return tokens


def _token(index: int, table: Any) -> TokenConfig:
    if isinstance(table, TokenConfig):
        return table
    where = f"token {index + 1}"
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: expected a table of name, sha256 and scopes")
    if isinstance(table.get("name"), str):
        where += f" ({table['name'][:64]!r})"
    _check_keys(where, table)
    name, sha256, scopes = table["name"], table["sha256"], table["scopes"]
    if not isinstance(name, str) or not valid_name(name):
        raise ValueError(f"{where}: name {NAME_RULE}")
    if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256):
        raise ValueError(f"{where}: sha256 must be 64 hex digits (the SHA-256 of the secret)")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ValueError(f'{where}: scopes must be a list of strings, e.g. ["read"]')
    try:
        granted = parse_scopes(scopes)
    except ValueError as exc:
        raise ValueError(f"{where}: scopes: {exc}") from None
    if not granted:
        raise ValueError(f"{where}: scopes must name at least one of {', '.join(SCOPES)}")
    return TokenConfig(name, sha256.lower(), granted)


NAME_RULE = "must be 1-64 letters, digits, '_', '.', '@' or '-'"


def valid_name(name: str) -> bool:
    """Tell whether `name` may name a token."""
    return _NAME.fullmatch(name) is not None


def _check_keys(where: str, table: Mapping[str, Any]) -> None:
    unknown = sorted(set(table) - _KEYS)
    missing = sorted(_KEYS - set(table))
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r} (a token has name, sha256, scopes)")
    if missing:
        raise ValueError(f"{where}: missing key {missing[0]!r}")


def check_unique(tokens: Iterable[TokenConfig]) -> None:
    """Raise `ValueError` if two tokens share a name or a secret."""
    names: set[str] = set()
    hashes: set[str] = set()
    for token in tokens:
        if token.name in names:
            raise ValueError(f"two tokens are named {token.name!r}")
        if token.sha256 in hashes:
            raise ValueError(f"token {token.name!r} has the sha256 of another token")
        names.add(token.name)
        hashes.add(token.sha256)


def read_tokens_file(path: str) -> tuple[TokenConfig, ...]:
    """Read the [[auth.tokens]] tables of a file ('' for none); raise `ValueError` saying why."""
    if not path:
        return ()
    try:
        with Path(path).open("rb") as fh:
            table = tomllib.load(fh)
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError(f"{path}: not a valid TOML file: {exc}") from None
    auth = table.get("auth", {})
    if set(table) - {"auth"} or not isinstance(auth, dict) or set(auth) - {"tokens"}:
        raise ValueError(f"{path}: must hold only [[auth.tokens]] tables")
    try:
        return parse_tokens(auth.get("tokens", []))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def new_token(name: str, scopes: frozenset[str]) -> tuple[str, str]:
    """Return a new secret and the TOML table that configures it."""
    secret = secrets.token_urlsafe(32)
    listed = ", ".join(f'"{scope}"' for scope in SCOPES if scope in scopes)
    table = f'[[auth.tokens]]\nname = "{name}"\nsha256 = "{digest(secret)}"\nscopes = [{listed}]\n'
    return secret, table
