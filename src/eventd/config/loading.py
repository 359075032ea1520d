"""Loading the settings: defaults, then the TOML file, then `EVENTD_<SECTION>_<KEY>`
environment variables, then command-line flags (lowest precedence first); every value is
checked against its declaration in `tables`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

from eventd.config.tables import AuthConfig, Config, Limits
from eventd.config.tokens import check_unique, read_tokens_file

ENV_PREFIX = "EVENTD_"
# Variables of the test suite (EVENTD_TEST_MONGODB_URL, ...): never read as settings, so a
# shell that runs the tests can also run the daemon.
ENV_RESERVED_PREFIX = "EVENTD_TEST_"
# Variables of eventd's clients (`eventd tail`'s token): never settings, so a shell that
# follows a daemon can also start one.
ENV_CLIENT = frozenset({"EVENTD_TOKEN"})
# Environment names that differ from the EVENTD_<SECTION>_<KEY> rule.
ENV_ALIASES = {"EVENTD_ENGINE": "engine.name"}


class ConfigError(ValueError):
    """Invalid configuration; the message names the key and the reason on one line."""


@dataclass(frozen=True)
class Setting:
    name: str
    type: type
    default: Any
    help: str
    env: str
    meta: Mapping[str, Any]


def settings(cls: type = Config, prefix: str = "") -> Iterator[Setting]:
    """Yield every setting, depth first, with its dotted name."""
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        name = prefix + f.name
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            yield from settings(kind, name + ".")  # type: ignore[arg-type]
        else:
            env = ENV_PREFIX + name.upper().replace(".", "_") if f.metadata["env"] else ""
            yield Setting(name, kind, f.default, f.metadata["help"], env, f.metadata)


def load(
    path: Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Read and validate the configuration; raise `ConfigError` naming the bad key."""
    values: dict[str, Any] = {}
    if path is not None:
        try:
            with path.open("rb") as fh:
                values = _flatten(tomllib.load(fh))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text: byte {exc.start} is invalid") from exc
        except RecursionError as exc:
            # The TOML parser recurses once per nested array or inline table.
            raise ConfigError(f"{path}: nested too deeply to read") from exc
    known = {s.name: s for s in settings()}
    values |= _from_env(known, env or {})
    values |= {k: v for k, v in (overrides or {}).items() if v is not None}
    for name in values:
        if name not in known:
            raise ConfigError(f"{name}: unknown key")
    checked = {
        name: _parse(known[name], value)
        if known[name].meta["parse"]
        else _check(known[name], value)
        for name, value in values.items()
    }
    config: Config = _build(Config, checked)
    return config


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[prefix + key] = value
    return flat


def _from_env(known: Mapping[str, Setting], env: Mapping[str, str]) -> dict[str, Any]:
    by_env = {s.env: s for s in known.values() if s.env} | {
        k: known[v] for k, v in ENV_ALIASES.items()
    }
    found: dict[str, Any] = {}
    source: dict[str, str] = {}
    for var, text in sorted(env.items()):
        if (
            not var.startswith(ENV_PREFIX)
            or var.startswith(ENV_RESERVED_PREFIX)
            or var in ENV_CLIENT
        ):
            continue
        setting_ = by_env.get(var)
        if setting_ is None:
            raise ConfigError(_unknown_env(var, by_env))
        try:
            value = _parse_env(setting_.type, text)
        except ValueError as exc:
            raise ConfigError(f"{setting_.name}: {var}={text!r}: {exc}") from exc
        if setting_.name in found and found[setting_.name] != value:
            raise ConfigError(f"{setting_.name}: {source[setting_.name]} and {var} disagree")
        found[setting_.name], source[setting_.name] = value, var
    return found


def _unknown_env(var: str, by_env: Mapping[str, Setting]) -> str:
    # A typo in a variable name would otherwise silently run with the default value.
    close = difflib.get_close_matches(var, by_env, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return f"{var}: no such setting ({ENV_RESERVED_PREFIX}* is left to the test suite){hint}"


def _parse_env(kind: type, text: str) -> Any:
    if kind is bool:
        lowered = text.strip().lower()
        if lowered not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError("expected true or false")
        return lowered in ("true", "1", "yes")
    if kind is int:
        return int(text)
    if kind is float:
        return float(text)
    return text


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _join_list(setting_: Setting, value: Any) -> Any:
    """Return a list of strings given to a `comma_list` setting as one comma-separated string."""
    strings = isinstance(value, list) and all(isinstance(item, str) for item in value)
    return ",".join(value) if strings and setting_.meta["comma_list"] else value


def _parse(setting_: Setting, value: Any) -> Any:
    try:
        return setting_.meta["parse"](value)
    except ValueError as exc:
        raise ConfigError(f"{setting_.name}: {exc}") from None


def _check(setting_: Setting, value: Any) -> Any:
    kind, meta = setting_.type, setting_.meta
    value = _join_list(setting_, value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ConfigError(f"{setting_.name}: expected {_TYPE_NAMES[kind]}, got {value!r}")
    problem = None
    if isinstance(value, float) and not math.isfinite(value):
        problem = f"must be a finite number, got {value!r}"
    elif meta["minimum"] is not None and value < meta["minimum"]:
        problem = f"must be at least {meta['minimum']}, got {value!r}"
    elif meta["maximum"] is not None and value > meta["maximum"]:
        problem = f"must be at most {meta['maximum']}, got {value!r}"
    elif meta["choices"] is not None and value not in meta["choices"]:
        problem = f"must be one of {', '.join(meta['choices'])}; got {value!r}"
    elif meta["check"] is not None:
        try:
            meta["check"](value)
        except ValueError as exc:
            problem = str(exc)
    if problem:
        raise ConfigError(f"{setting_.name}: {problem}")
    return value


def _build(cls: type, values: Mapping[str, Any], prefix: str = "") -> Any:
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            kwargs[f.name] = _build(kind, values, f"{prefix}{f.name}.")  # type: ignore[arg-type]
        elif prefix + f.name in values:
            kwargs[f.name] = values[prefix + f.name]
    config = cls(**kwargs)
    if cls is Limits:
        _check_limits(config)
    if cls is AuthConfig:
        try:
            check_unique(config.tokens + read_tokens_file(config.tokens_file))
        except ValueError as exc:
            raise ConfigError(f"auth.tokens_file: {exc}") from None
    return config


def _check_limits(limits: Limits) -> None:
    if limits.default_page_size > limits.max_page_size:
        raise ConfigError(
            "limits.default_page_size: must not exceed limits.max_page_size "
            f"({limits.default_page_size} > {limits.max_page_size})"
        )
