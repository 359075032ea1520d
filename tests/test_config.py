"""Tests of eventd.config: defaults, the TOML file, environment, overrides, errors, docs."""

from __future__ import annotations

import dataclasses
import logging
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

import eventd.config
from eventd.config import Config, ConfigError, load, settings

# The documented default, shipped in the package (`eventd config --default` prints it).
CONFIG_TOML = Path(eventd.config.__file__).with_name("default.toml")
KEY_LINE = re.compile(r"^\s*[A-Za-z0-9_\"'.-]+\s*=")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "eventd.toml"
    path.write_text(text, encoding="utf-8")
    return path


def message(exc_info: pytest.ExceptionInfo[ConfigError]) -> str:
    """Return the error's message, checking that it is a single line."""
    text = str(exc_info.value)
    assert "\n" not in text and "\r" not in text, text
    return text


def assert_names(exc_info: pytest.ExceptionInfo[ConfigError], key: str) -> None:
    text = message(exc_info)
    assert text.startswith(f"{key}:"), text


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[prefix + key] = value
    return flat


# --- defaults --------------------------------------------------------------------------------


def test_defaults() -> None:
    config = load()
    assert config == Config()
    assert config.engine.name == "memory"
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8080)
    assert config.limits.default_page_size <= config.limits.max_page_size


def test_config_is_frozen() -> None:
    config = load()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.server.port = 1  # type: ignore[misc]


def test_settings_names_and_env() -> None:
    found = {s.name: s for s in settings()}
    assert len(found) == len(list(settings()))
    assert found["server.port"].env == "EVENTD_SERVER_PORT"
    assert found["limits.max_batch"].env == "EVENTD_LIMITS_MAX_BATCH"
    assert found["server.port"].default == 8080
    assert all(s.help for s in found.values())


# --- the TOML file ---------------------------------------------------------------------------


def test_load_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[server]\nhost = "0.0.0.0"\nport = 9000\nshutdown_timeout = 3\n'
        '[limits]\nmax_batch = 50\n[time]\nnaive_timezone = "Europe/Paris"\n',
    )
    config = load(path)
    assert config.server == dataclasses.replace(
        Config().server, host="0.0.0.0", port=9000, shutdown_timeout=3.0
    )
    assert isinstance(config.server.shutdown_timeout, float)
    assert config.limits.max_batch == 50
    assert config.time.naive_timezone == "Europe/Paris"
    assert config.store == Config().store


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load(write(tmp_path, "")) == Config()


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[server]\nprot = 1\n", "server.prot"),
        ("[nosuch]\nx = 1\n", "nosuch.x"),
        ("port = 1\n", "port"),
        ("[limits]\nmax_batch = 5\nmax_bach = 5\n", "limits.max_bach"),
        ("[server.port]\nx = 1\n", "server.port.x"),
    ],
)
def test_unknown_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError, match="unknown key") as exc_info:
        load(write(tmp_path, text))
    assert_names(exc_info, key)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('[server]\nport = "x"\n', "server.port"),
        ("[server]\nport = true\n", "server.port"),
        ("[server]\nport = 8080.0\n", "server.port"),
        ("[server]\nport = 70000\n", "server.port"),
        ("[server]\nport = -1\n", "server.port"),
        ("[server]\nhost = 1\n", "server.host"),
        ('[server]\nshutdown_timeout = "5"\n', "server.shutdown_timeout"),
        ("[server]\nshutdown_timeout = -0.5\n", "server.shutdown_timeout"),
        ("[limits]\nmax_batch = 1.5\n", "limits.max_batch"),
        ("[limits]\nmax_batch = 0\n", "limits.max_batch"),
        ("[limits]\nmax_body_bytes = 1023\n", "limits.max_body_bytes"),
        ("[limits]\nmax_batch = [1]\n", "limits.max_batch"),
        ("[store]\nqueue_size = 0\n", "store.queue_size"),
        ('[engine]\nname = "postgres"\n', "engine.name"),
        ('[time]\nnaive_timezone = "Mars/Olympus"\n', "time.naive_timezone"),
        ('[time]\nnaive_timezone = "Europe"\n', "time.naive_timezone"),
        ('[log]\nlevel = "INFO"\n', "log.level"),
        ("[limits]\ndefault_page_size = 1001\n", "limits.default_page_size"),
        ("[limits]\ndefault_page_size = 20\nmax_page_size = 10\n", "limits.default_page_size"),
        ('[server]\nhost = ""\n', "server.host"),
        ('[server]\nhost = " "\n', "server.host"),
        ('[engine.redis]\nurl = "http://x"\n', "engine.redis.url"),
        ('[engine.redis]\nurl = ""\n', "engine.redis.url"),
        ('[engine.redis]\nurl = "redis://[::1"\n', "engine.redis.url"),
        ('[engine.redis]\nurl = "redis://127.0.0.1:99999/0"\n', "engine.redis.url"),
        ('[engine.redis]\nurl = "redis://127.0.0.1:port/0"\n', "engine.redis.url"),
        ('[engine.redis]\nurl = "redis://127.0.0.1:6379/x"\n', "engine.redis.url"),
        ('[engine.redis]\nurl = "unix://"\n', "engine.redis.url"),
        ('[engine.mongo]\nurl = "junk://"\n', "engine.mongo.url"),
        ('[engine.mongo]\nurl = ""\n', "engine.mongo.url"),
        ('[engine.mongo]\nurl = "mongodb://"\n', "engine.mongo.url"),
        ('[engine.mongo]\nurl = "mongodb:///db"\n', "engine.mongo.url"),
        ('[engine.mongo]\nurl = "mongodb://user@/db?authSource=a@b"\n', "engine.mongo.url"),
        ("[stats]\npush_interval = 1e300\n", "stats.push_interval"),
        ("[stats]\ncleanup_interval = 1e300\n", "stats.cleanup_interval"),
        ("[retention]\ninterval = 1e300\n", "retention.interval"),
        ("[feed]\nhistory = 99999999999999999999\n", "feed.history"),
        ("[feed]\nhistory = 1000000001\n", "feed.history"),
        ("[store]\nqueue_size = 9223372036854775807\n", "store.queue_size"),
        ("[limits]\nmax_batch = 9223372036854775807\n", "limits.max_batch"),
    ],
)
def test_invalid_value(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as exc_info:
        load(write(tmp_path, text))
    assert_names(exc_info, key)


@pytest.mark.parametrize(
    ("key", "url"),
    [
        ("redis", "redis://127.0.0.1:6379/0"),
        ("redis", "rediss://user:secret@cache.example:6380/2"),
        ("redis", "redis://[::1]:6379"),
        ("redis", "redis://"),
        ("redis", "unix:///run/redis.sock?db=1"),
        ("mongo", "mongodb://127.0.0.1:27017"),
        ("mongo", "mongodb://a:1,b:2/eventd?replicaSet=rs0"),
        ("mongo", "mongodb+srv://user:secret@cluster.example/eventd"),
    ],
)
def test_engine_urls_accepted(tmp_path: Path, key: str, url: str) -> None:
    config = load(write(tmp_path, f'[engine.{key}]\nurl = "{url}"\n'))
    assert getattr(config.engine, key).url == url


def test_engine_url_of_an_engine_not_chosen_is_checked(tmp_path: Path) -> None:
    text = '[engine]\nname = "memory"\n[engine.redis]\nurl = "http://x"\n'
    with pytest.raises(ConfigError) as exc_info:
        load(write(tmp_path, text))
    assert_names(exc_info, "engine.redis.url")


def test_every_number_setting_has_a_maximum() -> None:
    unbounded = [s.name for s in settings() if s.type in (int, float) and s.meta["maximum"] is None]
    assert unbounded == []


def test_page_sizes_may_be_equal(tmp_path: Path) -> None:
    config = load(write(tmp_path, "[limits]\ndefault_page_size = 10\nmax_page_size = 10\n"))
    assert (config.limits.default_page_size, config.limits.max_page_size) == (10, 10)


@pytest.mark.parametrize(
    "text", ["[server\n", "port = \n", "a = 1\na = 2\n", "x = 'unterminated\n"]
)
def test_invalid_toml(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError, match="not valid TOML") as exc_info:
        load(path)
    assert str(path) in message(exc_info)


def test_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "eventd.toml"
    path.write_bytes(b"\xff\xfe[server]\n")
    with pytest.raises(ConfigError, match="not UTF-8") as exc_info:
        load(path)
    assert message(exc_info).startswith(f"{path}:")


def test_file_nested_too_deeply(tmp_path: Path) -> None:
    path = write(tmp_path, "a=" + "[" * 100_000)
    with pytest.raises(ConfigError, match="nested too deeply") as exc_info:
        load(path)
    assert message(exc_info).startswith(f"{path}:")


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"
    with pytest.raises(ConfigError, match="cannot read") as exc_info:
        load(path)
    assert str(path) in message(exc_info)


# --- environment and overrides ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "key", "expected"),
    [
        ({"EVENTD_SERVER_PORT": "9001"}, "port", 9001),
        ({"EVENTD_SERVER_HOST": "::1"}, "host", "::1"),
        ({"EVENTD_SERVER_SHUTDOWN_TIMEOUT": "2.5"}, "shutdown_timeout", 2.5),
    ],
)
def test_env_server(env: dict[str, str], key: str, expected: object) -> None:
    assert getattr(load(env=env).server, key) == expected


def test_env_engine_and_limits() -> None:
    config = load(env={"EVENTD_ENGINE": "memory", "EVENTD_LIMITS_MAX_BATCH": "5000"})
    assert config.engine.name == "memory"
    assert config.limits.max_batch == 5000


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"EVENTD_SERVER_PORT": "abc"}, "server.port"),
        ({"EVENTD_SERVER_PORT": ""}, "server.port"),
        ({"EVENTD_SERVER_PORT": "8080.5"}, "server.port"),
        ({"EVENTD_SERVER_PORT": "70000"}, "server.port"),
        ({"EVENTD_SERVER_SHUTDOWN_TIMEOUT": "soon"}, "server.shutdown_timeout"),
        ({"EVENTD_ENGINE": "nosuch"}, "engine.name"),
        ({"EVENTD_LIMITS_MAX_BATCH": "0"}, "limits.max_batch"),
        ({"EVENTD_TIME_NAIVE_TIMEZONE": "Nowhere/Town"}, "time.naive_timezone"),
    ],
)
def test_env_invalid(env: dict[str, str], key: str) -> None:
    with pytest.raises(ConfigError) as exc_info:
        load(env=env)
    assert_names(exc_info, key)


def test_env_error_shows_variable() -> None:
    with pytest.raises(ConfigError) as exc_info:
        load(env={"EVENTD_SERVER_PORT": "abc"})
    assert "EVENTD_SERVER_PORT='abc'" in message(exc_info)


def test_env_ignores_other_variables(caplog: pytest.LogCaptureFixture) -> None:
    env = {"HOME": "/x", "EVENTD_TEST_PORT": "nope", "EVENTD_TEST_MONGODB_URL": "x", "PORT": "1"}
    with caplog.at_level(logging.DEBUG, logger="eventd.config"):
        assert load(env=env) == Config()
    assert caplog.text == ""


@pytest.mark.parametrize("var", ["EVENTD_NOSUCH", "EVENTD_SERVR_HOST", "EVENTD_", "EVENTD_TEST"])
def test_env_unknown_variable_is_an_error(var: str) -> None:
    with pytest.raises(ConfigError, match="no such setting") as exc_info:
        load(env={var: "1", "EVENTD_SERVER_PORT": "9000"})
    assert_names(exc_info, var)


def test_env_unknown_variable_suggests_the_setting() -> None:
    with pytest.raises(ConfigError) as exc_info:
        load(env={"EVENTD_SERVR_HOST": "::1"})
    assert "EVENTD_SERVER_HOST" in message(exc_info)


def test_every_setting_reads_its_env_variable() -> None:
    for s in settings():
        env = {s.env: str(s.default)}
        assert load(env=env) == Config(), s.env


def test_precedence(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\nport = 1000\nhost = "10.0.0.1"\n[limits]\nmax_batch = 7\n')
    env = {"EVENTD_SERVER_PORT": "2000", "EVENTD_LIMITS_MAX_BATCH": "8"}
    overrides = {"server.port": 3000, "server.host": None, "limits.max_batch": None}

    assert load().server.port == 8080
    assert load(path).server.port == 1000
    assert load(path, env=env).server.port == 2000
    config = load(path, env=env, overrides=overrides)
    assert config.server.port == 3000
    # None overrides are ignored; the lower layers still show through.
    assert config.server.host == "10.0.0.1"
    assert config.limits.max_batch == 8
    assert load(env=env, overrides={"server.port": None}).server.port == 2000


def test_overrides_are_checked() -> None:
    with pytest.raises(ConfigError) as exc_info:
        load(overrides={"server.port": 70000})
    assert_names(exc_info, "server.port")


def test_unknown_override_is_config_error() -> None:
    with pytest.raises(ConfigError):
        load(overrides={"server.prot": 1})


def test_nan_timeout_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load(write(tmp_path, "[server]\nshutdown_timeout = nan\n"))


def test_engine_alias_and_full_name_must_agree() -> None:
    env = {"EVENTD_ENGINE": "memory", "EVENTD_ENGINE_NAME": "redis"}
    with pytest.raises(ConfigError, match=r"engine\.name"):
        load(env=env)
    assert (
        load(env={"EVENTD_ENGINE": "memory", "EVENTD_ENGINE_NAME": "memory"}).engine.name
        == "memory"
    )


# --- config.toml documents every setting -----------------------------------------------------


def test_config_toml_documents_every_setting() -> None:
    with CONFIG_TOML.open("rb") as fh:
        documented = flatten(tomllib.load(fh))
    known = {s.name: s for s in settings()}
    assert set(known) - set(documented) == set(), "settings missing from config.toml"
    assert set(documented) - set(known) == set(), "unknown keys in config.toml"
    for name, s in known.items():
        # TOML has no tuples: a list of tables (auth.tokens) is documented as a list.
        default = list(s.default) if isinstance(s.default, tuple) else s.default
        assert documented[name] == default, name
        assert type(documented[name]) is type(default), name
    assert load(CONFIG_TOML) == Config()


def test_config_toml_key_lines_have_comments() -> None:
    lines = CONFIG_TOML.read_text(encoding="utf-8").splitlines()
    key_lines = [i for i, line in enumerate(lines) if KEY_LINE.match(line)]
    assert len(key_lines) == len(list(settings()))
    for i in key_lines:
        assert i > 0 and lines[i - 1].lstrip().startswith("# "), f"line {i + 1}: {lines[i]}"
